import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ASYNC_JOB_PRIORITY, functionQueueName, type InvocationJob, type JobName } from '@tributary/contracts';

export interface InvocationQueuesOptions {
  /** Shared connection for every producer queue (a Queue issues no blocking commands). */
  connection: Redis;
  prefix: string;
  /** How long a job id keeps a redelivered event from being queued twice. */
  dedupeWindowMs: number;
  /** Attempts of an async invocation in all (AWS: 1 + MaximumRetryAttempts, default 2). */
  asyncAttempts: number;
  /** First retry delay; doubles for the next (AWS waits about 1 minute, then 2). */
  asyncRetryDelayMs: number;
}

/**
 * BullMQ job id: the trigger and the event together. BullMQ rejects `:` in custom ids, so the
 * parts are joined with `__`.
 */
export const invocationJobId = (triggerId: string, eventId: string): string => `${triggerId}__${eventId}`;

const INVOKE: JobName = 'invoke';

/**
 * Entries BullMQ keeps in each queue's event stream (its default, 10,000, is about 1 MB of Redis
 * per queue ever used: 1 GB for 1,000 functions). Nothing here reads those events; a short tail
 * is left for someone debugging with QueueEvents. Every Queue handle that opens a function's
 * queue must say the same, because each writes it into the queue's meta.
 */
export const QUEUE_EVENTS_KEPT = 100;

/** A handle on a function's queue (it issues no blocking commands, so it may share `connection`). */
export const openFunctionQueue = (functionName: string, connection: Redis, prefix: string): Queue<InvocationJob, unknown, JobName> =>
  new Queue<InvocationJob, unknown, JobName>(functionQueueName(functionName), { connection, prefix, streams: { events: { maxLen: QUEUE_EVENTS_KEPT } } });

/** The producer side: one BullMQ queue per function, opened on first use. */
export class InvocationQueues {
  private readonly queues = new Map<string, Queue<InvocationJob, unknown, JobName>>();

  constructor(private readonly options: InvocationQueuesOptions) {}

  queue(functionName: string): Queue<InvocationJob, unknown, JobName> {
    let queue = this.queues.get(functionName);
    if (!queue) {
      queue = openFunctionQueue(functionName, this.options.connection, this.options.prefix);
      this.queues.set(functionName, queue);
    }
    return queue;
  }

  /**
   * Lets go of a deleted function's handle. Each handle writes the queue's meta once, when
   * opened; once the worker has removed the queue, a handle kept open would queue the next
   * function of that name with BullMQ's defaults (an event stream of 10,000).
   */
  forget(functionName: string): void {
    const queue = this.queues.get(functionName);
    if (!queue) return;
    this.queues.delete(functionName);
    // A job being added on it still completes: the connection is shared and stays open.
    queue.close().catch(() => undefined);
  }

  jobOptions(job: InvocationJob, triggerId: string): JobsOptions {
    const jobId = invocationJobId(triggerId, job.requestId);
    const common: JobsOptions = {
      jobId,
      deduplication: { id: jobId, ttl: this.options.dedupeWindowMs },
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
    };
    // A sync caller is waiting: no priority (BullMQ runs those first) and no retry, as on AWS.
    if (job.invocationType === 'RequestResponse') return { ...common, attempts: 1 };
    return {
      ...common,
      priority: ASYNC_JOB_PRIORITY,
      attempts: this.options.asyncAttempts,
      backoff: { type: 'exponential', delay: this.options.asyncRetryDelayMs },
    };
  }

  /** Resolves once Redis holds the job (or already held it: same event, same job id). */
  async enqueue(job: InvocationJob, triggerId = 'invoke'): Promise<void> {
    await this.queue(job.functionName).add(INVOKE, job, this.jobOptions(job, triggerId));
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
