import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Subscription } from '@nats-io/transport-node';
import { FUNCTION_NAME_PATTERN, workAnnounceWildcard } from '@tributary/contracts';
import { NatsClient } from '@tributary/nats';
import { Counter, type Registry } from 'prom-client';
import { METRICS_REGISTRY, PeriodicTask } from '@tributary/observability';
import { FunctionWorkers } from '@tributary/queue';
import { FunctionRegistry } from '@tributary/registry';
import { SandboxPool } from '@tributary/runtime';

export const WORK_SETTINGS = Symbol('WORK_SETTINGS');
export interface WorkSettings {
  subjectPrefix: string;
  shutdownGraceMs: number;
  /** Queues with work but no announcement heard are looked for this often. */
  pendingSweepMs: number;
  /** Unpacked packages no function uses any more are removed this often (0: never)… */
  codeCollectionIntervalMs: number;
  /** …once they were unpacked at least this long ago. */
  codeCollectionGraceMs: number;
}

/**
 * Attaches to a function's queue when the dispatcher announces work for it (and, at start, to
 * every queue that still holds jobs), retires sandboxes of code that changed, frees the disk of
 * code no function uses any more, and drains on shutdown.
 */
@Injectable()
export class WorkListener implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WorkListener.name);
  private subscription?: Subscription;
  private stopRetiring?: () => void;
  private periodic: PeriodicTask[] = [];
  private readonly announcements: Counter<'function'>;
  /** Functions deleted whose queue is still in Redis. */
  private readonly deleted = new Set<string>();
  private lookedForOrphans = false;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(FunctionWorkers) private readonly workers: FunctionWorkers,
    @Inject(FunctionRegistry) private readonly registry: FunctionRegistry,
    @Inject(SandboxPool) private readonly pool: SandboxPool,
    @Inject(WORK_SETTINGS) private readonly settings: WorkSettings,
    @Inject(METRICS_REGISTRY) metrics: Registry,
  ) {
    this.announcements = new Counter({
      name: 'tributary_worker_work_announcements_total',
      help: 'Announcements of queued work heard, by whether they named a registered function',
      labelNames: ['function'],
      registers: [metrics],
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const wildcard = workAnnounceWildcard(this.settings.subjectPrefix);
    const offset = wildcard.length - 1;
    this.subscription = this.nats.nc.subscribe(wildcard, {
      // Anyone can publish here, and a throw inside a nats.js callback ends the connection's
      // reader: only function names go through, and nothing escapes.
      callback: (error, msg) => {
        if (error) return; // then msg is not a message (nats.js passes {} with a permissions error)
        const name = msg.subject.slice(offset);
        if (!FUNCTION_NAME_PATTERN.test(name)) return this.announcements.inc({ function: 'unknown' });
        if (this.registry.get(name)) return this.attach(name);
        // Not in this process's index: created a moment ago (the watch lags the write), or no
        // function at all. An attachment holds a Redis connection, so a name anyone made up
        // must not get one: the bucket decides.
        this.registry.getFresh(name).then(
          (entry) => (entry ? this.attach(name) : this.announcements.inc({ function: 'unknown' })),
          (failure: unknown) => this.logger.warn(`could not look up ${name}, announced: ${(failure as Error).message}`),
        );
      },
    });
    // After UpdateFunctionCode/Configuration, warm sandboxes of the old revision retire; the
    // queue of a deleted function is removed once its last jobs have ended.
    this.stopRetiring = this.registry.onChange((name, entry) => {
      this.pool.retire(name, entry?.record.revisionId);
      if (entry) this.deleted.delete(name);
      else this.deleted.add(name);
    });
    await this.workers.attachPending(this.registry.list().map((e) => e.record.name));
    this.periodic = [
      new PeriodicTask('looking for queues with work', this.settings.pendingSweepMs, () =>
        this.workers.attachPending(this.registry.list().map((e) => e.record.name)),
      ),
      new PeriodicTask('removing the queues of deleted functions', this.settings.pendingSweepMs, () => this.removeDeletedQueues()),
      new PeriodicTask('removing unused unpacked code', this.settings.codeCollectionIntervalMs, () => this.removeUnusedCode()),
    ];
    this.logger.log(`listening for work on ${wildcard}; attached to ${this.workers.active().length} queue(s) with pending jobs`);
  }

  private attach(name: string): void {
    this.announcements.inc({ function: 'known' });
    try {
      this.workers.attach(name);
    } catch (failure) {
      this.logger.warn(`could not attach to the queue of ${name}: ${(failure as Error).message}`);
    }
  }

  /**
   * A deleted function's queue is removed from Redis once nothing in it runs or waits (its jobs
   * end as "function not found"); until then this process attaches to it so that they do. The
   * first run also finds the queues of functions deleted while no worker was running.
   */
  private async removeDeletedQueues(): Promise<void> {
    if (!this.lookedForOrphans) {
      for (const name of await this.workers.queuedFunctions()) if (!this.registry.get(name)) this.deleted.add(name);
      this.lookedForOrphans = true;
    }
    for (const name of [...this.deleted]) {
      // Created again (the index may lag a write elsewhere, the bucket does not): the queue is its.
      if (this.registry.get(name) || (await this.registry.getFresh(name))) {
        this.deleted.delete(name);
        continue;
      }
      const outcome = await this.workers.removeQueue(name);
      // Kept until a look finds nothing: another worker still attached to it, or a dispatcher
      // whose index lagged the delete, may have written to it since.
      if (outcome === 'absent') this.deleted.delete(name);
      else if (outcome === 'removed') this.logger.log(`removed the queue of deleted function ${name}`);
      else if (outcome === 'pending') this.workers.attach(name);
    }
  }

  private async removeUnusedCode(): Promise<void> {
    try {
      const current = this.registry.list().map((e) => e.record.codeKey);
      const removed = await this.pool.removeUnusedCode(current, this.settings.codeCollectionGraceMs);
      if (removed.length > 0) this.logger.log(`removed ${removed.length} unpacked package(s) no function uses: ${removed.join(', ')}`);
    } catch (error) {
      this.logger.warn(`could not remove unused unpacked packages: ${(error as Error).message}`);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    // Not waited for: a run stuck on Redis or NATS must not hold up the shutdown.
    for (const task of this.periodic) void task.stop();
    this.subscription?.unsubscribe();
    this.stopRetiring?.();
    this.logger.log(`stopping: waiting up to ${this.settings.shutdownGraceMs} ms for running invocations`);
    if ((await this.workers.close(this.settings.shutdownGraceMs)) === 'expired') {
      // Killing the sandboxes now would complete their jobs as failures (a sync caller told
      // Runtime.ExitError, an async retry used up). Left alone, they end with this process,
      // their jobs' locks lapse and BullMQ hands them out again.
      this.logger.warn('leaving the invocations still running to be redelivered');
      return;
    }
    await this.pool.close();
  }
}
