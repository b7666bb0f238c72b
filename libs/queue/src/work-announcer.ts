/**
 * Tells workers that a function's queue has work, at most once per `intervalMs` per function.
 *
 * A worker that hears an announcement attaches to the queue and stays attached until it has
 * been idle for WORKER_IDLE_QUEUE_MS. Announcing every job would wake every worker process for
 * every event (events × workers messages) although they are attached already; once per
 * interval is enough as long as the interval is well below the workers' idle time: a job that
 * follows an announcement within the interval finds the worker that took the earlier job still
 * attached. A lost announcement (core NATS delivers at most once) is caught by the workers'
 * periodic look for queues with work.
 */
export class WorkAnnouncer {
  private readonly announcedAt = new Map<string, number>();

  constructor(
    private readonly publish: (functionName: string) => void,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Functions whose last announcement is remembered. */
  get remembered(): number {
    return this.announcedAt.size;
  }

  /** Announces work for `functionName` unless it was announced less than the interval ago. */
  announce(functionName: string): void {
    const now = this.now();
    const last = this.announcedAt.get(functionName);
    if (last !== undefined && now - last < this.intervalMs) return;
    // Entries older than the interval mean nothing: drop them before the map grows large.
    if (this.announcedAt.size >= 10_000) {
      for (const [name, at] of this.announcedAt) if (now - at >= this.intervalMs) this.announcedAt.delete(name);
    }
    this.announcedAt.set(functionName, now);
    this.publish(functionName);
  }
}
