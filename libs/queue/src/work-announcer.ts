/**
 * Tells workers that a function's queue has work, at most once per `intervalMs` per function.
 *
 * A worker that hears an announcement attaches to the queue and stays attached until it has
 * been idle for WORKER_IDLE_QUEUE_MS. Announcing every job would wake every worker process for
 * every event (events × workers messages) although they are attached already. So the first job
 * of an interval is announced at once, and later jobs of the same interval by one announcement
 * at its end: a job is announced at most `intervalMs` after it was queued, even when the worker
 * that took the previous one has gone away in between (a restart) or missed it (a NATS
 * reconnect). A lost announcement (core NATS delivers at most once) is caught by the workers'
 * periodic look for queues with work.
 */
export class WorkAnnouncer {
  private readonly announcedAt = new Map<string, number>();
  private readonly trailing = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly publish: (functionName: string) => void,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Functions whose last announcement is remembered. */
  get remembered(): number {
    return this.announcedAt.size;
  }

  /** Announces work for `functionName` now, or at the end of the interval it was last announced in. */
  announce(functionName: string): void {
    const now = this.now();
    const last = this.announcedAt.get(functionName);
    if (last === undefined || now - last >= this.intervalMs) {
      this.send(functionName, now);
      return;
    }
    if (this.trailing.has(functionName)) return;
    const timer = setTimeout(() => {
      this.trailing.delete(functionName);
      this.send(functionName, this.now());
    }, this.intervalMs - (now - last));
    timer.unref();
    this.trailing.set(functionName, timer);
  }

  /**
   * Sends the pending announcements now (at shutdown, once no more jobs are queued): left to
   * their timers they would go with the process, and their jobs would wait for a worker's
   * periodic look.
   */
  flush(): void {
    const pending = [...this.trailing.entries()];
    this.trailing.clear();
    for (const [functionName, timer] of pending) {
      clearTimeout(timer);
      this.send(functionName, this.now());
    }
  }

  private send(functionName: string, now: number): void {
    try {
      this.publish(functionName);
    } catch {
      // Not remembered: the next job announces again. Workers also look for queues with work.
      return;
    }
    // Entries older than the interval mean nothing: drop them before the map grows large.
    if (this.announcedAt.size >= 10_000) {
      for (const [name, at] of this.announcedAt) if (now - at >= this.intervalMs) this.announcedAt.delete(name);
    }
    this.announcedAt.set(functionName, now);
  }
}
