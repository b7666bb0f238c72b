import { IsInt, Max, Min } from 'class-validator';
import { BaseConfig, WithHttp, WithRedis } from '@tributary/config';

export class DispatcherConfig extends WithRedis(WithHttp(BaseConfig, 9004)) {
  /** Events handled at the same time (each holds one Redis round trip). */
  @IsInt() @Min(1) @Max(10_000)
  DISPATCH_CONCURRENCY: number = 64;

  /** A message neither acked nor nak'ed within this time is redelivered (a dispatcher died). */
  @IsInt() @Min(1000) @Max(3_600_000)
  EVENTS_ACK_WAIT_MS: number = 30_000;

  /**
   * A function's queue is announced to the workers at most this often. Keep it well below the
   * workers' WORKER_IDLE_QUEUE_MS (30 s): a worker that took a job stays attached that long. 0
   * announces every event.
   */
  @IsInt() @Min(0) @Max(10_000)
  WORK_ANNOUNCE_INTERVAL_MS: number = 1000;

  /** Attempts of an async invocation in all (AWS default: 1 + 2 retries). */
  @IsInt() @Min(1) @Max(3)
  ASYNC_ATTEMPTS: number = 3;

  /** Delay before the first retry of a failed async invocation; doubles after (AWS: ~1 min, 2 min). */
  @IsInt() @Min(0) @Max(3_600_000)
  ASYNC_RETRY_DELAY_MS: number = 60_000;
}
