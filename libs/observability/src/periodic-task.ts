import { Logger } from '@nestjs/common';

/**
 * Runs `task` every `intervalMs` (never when 0), never two runs at once, and without keeping the
 * process alive; a failed run is logged and the next one happens as planned.
 */
export class PeriodicTask {
  private readonly logger = new Logger(PeriodicTask.name);
  private readonly timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(label: string, intervalMs: number, task: () => Promise<unknown>) {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.running ??= task()
        .then(() => undefined, (error: unknown) => this.logger.warn(`${label} failed: ${(error as Error).message}`))
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  /** No more runs; resolves once a run under way has ended. */
  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.running ?? Promise.resolve();
  }
}
