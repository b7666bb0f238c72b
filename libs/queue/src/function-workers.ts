import { Logger } from '@nestjs/common';
import { QueueKeys, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { FUNCTION_NAME_PATTERN, functionQueueName, type InvocationJob, type JobName } from '@tributary/contracts';

/** Times an invocation may be left running by a worker that died or was restarted, and still run. */
const MAX_STALLS = 10;

/**
 * A queue's lists and sets that hold jobs still to run or running. Redis deletes a list or sorted
 * set when it empties, so "the queue has work" is "one of these keys exists".
 */
const PENDING_STATES = ['wait', 'paused', 'prioritized', 'delayed', 'active', 'waiting-children'] as const;
/** Functions looked at per Redis round trip when looking for queues with work. */
const SWEEP_BATCH = 250;
/** Sets of finished jobs, whose job hashes go with them. */
const FINISHED_STATES = ['completed', 'failed'] as const;
/** The rest of a queue's own keys (BullMQ's QueueKeys), besides the job hashes. */
const OTHER_STATES = ['id', 'stalled', 'stalled-check', 'repeat', 'limiter', 'meta', 'events', 'pc', 'marker'] as const;
/** Finished jobs removed per Redis call when a queue is removed (Redis runs nothing else meanwhile). */
const REMOVAL_BATCH = 1000;

/**
 * Removes a queue's keys unless it holds a job to run or running, in one atomic step: a job
 * queued just before is kept, and a job queued just after finds an empty queue, as a new
 * function's does.
 *   KEYS: the pending keys (ARGV[1] of them), then the finished sets, then the other keys
 *   ARGV[2]: the queue's key prefix ("<prefix>:<queue>:"); a job's hash is that and its id
 *   ARGV[3]: finished jobs to remove at most in this call
 * Returns 0 (it holds work: nothing removed), 1 (removed), 2 (removed finished jobs; call again)
 * or 3 (there was nothing to remove).
 */
const REMOVE_IDLE_QUEUE = `
local pending = tonumber(ARGV[1])
for i = 1, pending do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
local budget = tonumber(ARGV[3])
for set = pending + 1, pending + ${FINISHED_STATES.length} do
  local ids = redis.call('ZRANGE', KEYS[set], 0, budget - 1)
  for _, id in ipairs(ids) do redis.call('DEL', ARGV[2] .. id, ARGV[2] .. id .. ':logs') end
  if #ids > 0 then redis.call('ZREM', KEYS[set], unpack(ids)) end
  budget = budget - #ids
  if budget <= 0 then return 2 end
end
local removed = redis.call('DEL', unpack(KEYS, pending + 1))
if removed == 0 and budget == tonumber(ARGV[3]) then return 3 end
return 1
`;

/**
 * What removeQueue did: removed the queue, found nothing to remove, left it because it still
 * holds work, or because this process consumes it.
 */
export type QueueRemoval = 'removed' | 'absent' | 'pending' | 'attached';

export type InvocationProcessor = (job: Job<InvocationJob, unknown, JobName>) => Promise<unknown>;

export interface FunctionWorkersOptions {
  /** Shared non-blocking connection; each BullMQ Worker adds one blocking connection of its own. */
  connection: Redis;
  prefix: string;
  /** Invocations of one function run at the same time in this process. */
  concurrency: number;
  /** A function's worker lets go of its queue after this long with nothing to do. */
  idleMs: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  processor: InvocationProcessor;
}

interface Attachment {
  worker: Worker<InvocationJob, unknown, JobName>;
  running: number;
  idleTimer?: NodeJS.Timeout;
  closing?: Promise<void>;
}

/**
 * Attaches a BullMQ Worker to a function's queue while the queue has work and detaches it when
 * idle, so that connections and memory grow with active functions, not registered ones.
 */
export class FunctionWorkers {
  private readonly logger = new Logger(FunctionWorkers.name);
  private readonly attached = new Map<string, Attachment>();
  private readonly keys: QueueKeys;
  private stopped = false;

  constructor(private readonly options: FunctionWorkersOptions) {
    this.keys = new QueueKeys(options.prefix);
  }

  /** Names of the functions whose queues this process is attached to. */
  active(): string[] {
    return [...this.attached.keys()];
  }

  /** Makes sure a worker is consuming the function's queue. Cheap when one already is. */
  attach(functionName: string): void {
    if (this.stopped) return;
    const current = this.attached.get(functionName);
    if (current && !current.closing) return;
    if (current?.closing) {
      void current.closing.then(() => this.attach(functionName));
      return;
    }
    const attachment: Attachment = { running: 0 } as Attachment;
    attachment.worker = new Worker<InvocationJob, unknown, JobName>(
      functionQueueName(functionName),
      async (job) => {
        attachment.running += 1;
        this.clearIdle(attachment);
        try {
          return await this.options.processor(job);
        } finally {
          attachment.running -= 1;
          // The last running job is done: start counting idle time (the queue may be empty already).
          if (attachment.running === 0) this.armIdle(functionName, attachment);
        }
      },
      {
        connection: this.options.connection,
        prefix: this.options.prefix,
        concurrency: this.options.concurrency,
        lockDuration: this.options.lockDurationMs,
        stalledInterval: this.options.stalledIntervalMs,
        // BullMQ counts a job's stalls over its whole life, retries included, and fails it for
        // good past this, without an answer or a retry: one stall per worker killed, or restarted
        // with a running invocation, under it. A job that kills its worker each time is not
        // possible here (function code runs in a sandbox), so the limit only has to be generous.
        maxStalledCount: MAX_STALLS,
        autorun: true,
      },
    );
    attachment.worker.on('error', (error) => this.logger.warn(`worker of ${functionName}: ${error.message}`));
    attachment.worker.on('drained', () => this.armIdle(functionName, attachment));
    this.attached.set(functionName, attachment);
    this.logger.debug?.(`attached to ${functionName}`);
  }

  /**
   * Attaches to every function among `names` whose queue holds jobs: at start, and now and
   * then, for work whose announcement was lost (core NATS delivers at most once).
   */
  async attachPending(names: string[]): Promise<void> {
    // One EXISTS per function, a batch of them per round trip: with 1,000 functions registered a
    // look used to open and close 1,000 Queue handles, one Redis round trip after another.
    const unattached = names.filter((name) => !this.attached.has(name));
    for (let start = 0; start < unattached.length; start += SWEEP_BATCH) {
      if (this.stopped) return;
      const batch = unattached.slice(start, start + SWEEP_BATCH);
      const pipeline = this.options.connection.pipeline();
      for (const name of batch) pipeline.exists(...this.pendingKeys(name));
      const answers = (await pipeline.exec()) ?? [];
      for (const [i, name] of batch.entries()) {
        const [error, count] = answers[i] ?? [new Error('Redis gave no answer')];
        if (error) throw error;
        if (Number(count) > 0) this.attach(name);
      }
    }
  }

  /**
   * Removes what a deleted function's queue leaves in Redis — failed jobs, its event stream, its
   * meta and counters — once it holds no job to run and this process is not attached to it.
   * Call it only for a name no function has: a job queued meanwhile is kept ('pending').
   */
  async removeQueue(functionName: string): Promise<QueueRemoval> {
    if (this.attached.has(functionName)) return 'attached';
    const queue = functionQueueName(functionName);
    const keys = [
      ...this.pendingKeys(functionName),
      ...[...FINISHED_STATES, ...OTHER_STATES].map((state) => this.keys.toKey(queue, state)),
    ];
    for (let removedSome = false; ; removedSome = true) {
      const outcome = Number(
        await this.options.connection.eval(REMOVE_IDLE_QUEUE, keys.length, ...keys, PENDING_STATES.length, this.keys.toKey(queue, ''), REMOVAL_BATCH),
      );
      if (outcome === 0) return 'pending';
      if (outcome === 1) return 'removed';
      if (outcome === 3) return removedSome ? 'removed' : 'absent';
    }
  }

  /** Names of the functions that have a queue in Redis (its meta), whether registered or not. */
  async queuedFunctions(): Promise<string[]> {
    const head = this.keys.toKey(functionQueueName(''), '').slice(0, -1); // "<prefix>:fn."
    const tail = ':meta';
    const match = `${head.replace(/[*?[\]\\]/g, '\\$&')}*${tail}`;
    const names = new Set<string>();
    let cursor = '0';
    do {
      const [next, found] = await this.options.connection.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      for (const key of found) {
        const name = key.slice(head.length, -tail.length);
        if (FUNCTION_NAME_PATTERN.test(name)) names.add(name);
      }
    } while (cursor !== '0');
    return [...names];
  }

  /** Whether a function's queue holds any job still to run, or running. */
  private async hasWork(functionName: string): Promise<boolean> {
    return (await this.options.connection.exists(...this.pendingKeys(functionName))) > 0;
  }

  private pendingKeys(functionName: string): string[] {
    const queue = functionQueueName(functionName);
    return PENDING_STATES.map((state) => this.keys.toKey(queue, state));
  }

  private clearIdle(attachment: Attachment): void {
    if (attachment.idleTimer) clearTimeout(attachment.idleTimer);
    attachment.idleTimer = undefined;
  }

  private armIdle(functionName: string, attachment: Attachment): void {
    this.clearIdle(attachment);
    attachment.idleTimer = setTimeout(() => {
      void this.detachIfIdle(functionName, attachment);
    }, this.options.idleMs);
    attachment.idleTimer.unref();
  }

  private async detachIfIdle(functionName: string, attachment: Attachment): Promise<void> {
    if (attachment.closing || attachment.running > 0 || this.attached.get(functionName) !== attachment) return;
    // Delayed retries and jobs of other workers' locks still need someone to watch the queue.
    if (await this.hasWork(functionName).catch(() => true)) {
      this.armIdle(functionName, attachment);
      return;
    }
    await this.detach(functionName);
  }

  async detach(functionName: string): Promise<void> {
    const attachment = this.attached.get(functionName);
    if (!attachment) return;
    this.clearIdle(attachment);
    attachment.closing ??= attachment.worker.close().finally(() => {
      if (this.attached.get(functionName) === attachment) this.attached.delete(functionName);
    });
    await attachment.closing;
  }

  /**
   * Stops taking jobs and waits up to `graceMs` for running ones; what is still running then
   * is left locked and BullMQ hands it to another worker once the lock expires.
   */
  async close(graceMs: number): Promise<'done' | 'expired'> {
    this.stopped = true;
    const attachments = [...this.attached.values()];
    for (const a of attachments) this.clearIdle(a);
    const graceful = Promise.all(attachments.map((a) => (a.closing ??= a.worker.close())));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), graceMs);
    });
    const outcome = await Promise.race([graceful.then(() => 'done' as const), expired]);
    clearTimeout(timer);
    if (outcome === 'expired') {
      // BullMQ's close(true) would only return the close already under way, which waits for the
      // running jobs; they are left to their locks instead (redelivered once those lapse).
      this.logger.warn(`shutdown grace of ${graceMs} ms expired; leaving running jobs to be redelivered`);
      graceful.catch(() => undefined);
    }
    this.attached.clear();
    return outcome;
  }
}
