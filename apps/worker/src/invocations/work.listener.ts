import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Subscription } from '@nats-io/transport-node';
import { workAnnounceWildcard } from '@tributary/contracts';
import { NatsClient } from '@tributary/nats';
import { FunctionWorkers } from '@tributary/queue';
import { FunctionRegistry } from '@tributary/registry';
import { SandboxPool } from '@tributary/runtime';

export const WORK_SETTINGS = Symbol('WORK_SETTINGS');
export interface WorkSettings {
  subjectPrefix: string;
  shutdownGraceMs: number;
}

/**
 * Attaches to a function's queue when the dispatcher announces work for it (and, at start, to
 * every queue that still holds jobs), retires sandboxes of code that changed, and drains on
 * shutdown.
 */
@Injectable()
export class WorkListener implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WorkListener.name);
  private subscription?: Subscription;
  private stopRetiring?: () => void;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(FunctionWorkers) private readonly workers: FunctionWorkers,
    @Inject(FunctionRegistry) private readonly registry: FunctionRegistry,
    @Inject(SandboxPool) private readonly pool: SandboxPool,
    @Inject(WORK_SETTINGS) private readonly settings: WorkSettings,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const wildcard = workAnnounceWildcard(this.settings.subjectPrefix);
    const offset = wildcard.length - 1;
    this.subscription = this.nats.nc.subscribe(wildcard, {
      callback: (error, msg) => {
        if (!error) this.workers.attach(msg.subject.slice(offset));
      },
    });
    // After UpdateFunctionCode/Configuration, warm sandboxes of the old revision retire.
    this.stopRetiring = this.registry.onChange((name, entry) => this.pool.retire(name, entry?.record.revisionId));
    await this.workers.attachPending(this.registry.list().map((e) => e.record.name));
    this.logger.log(`listening for work on ${wildcard}; attached to ${this.workers.active().length} queue(s) with pending jobs`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.subscription?.unsubscribe();
    this.stopRetiring?.();
    this.logger.log(`stopping: waiting up to ${this.settings.shutdownGraceMs} ms for running invocations`);
    await this.workers.close(this.settings.shutdownGraceMs);
    await this.pool.close();
  }
}
