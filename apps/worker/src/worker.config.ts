import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { BaseConfig, WithCodeCollection, WithHttp, WithRedis } from '@tributary/config';

export class WorkerConfig extends WithCodeCollection(WithRedis(WithHttp(BaseConfig, 9005))) {
  /** Invocations of one function that this process runs at the same time (one sandbox each). */
  @IsInt() @Min(1) @Max(1000)
  WORKER_CONCURRENCY: number = 10;

  /** A function's queue is let go after this long without work. */
  @IsInt() @Min(100) @Max(3_600_000)
  WORKER_IDLE_QUEUE_MS: number = 30_000;

  /** BullMQ lock of a running job; a job whose worker died is handed out again after it lapses. */
  @IsInt() @Min(1000) @Max(600_000)
  WORKER_LOCK_MS: number = 30_000;

  @IsInt() @Min(500) @Max(600_000)
  WORKER_STALLED_INTERVAL_MS: number = 30_000;

  /** A warm sandbox idle this long is retired. */
  @IsInt() @Min(100) @Max(86_400_000)
  WORKER_IDLE_SANDBOX_MS: number = 300_000;

  /**
   * The user and group sandboxes run as when the worker runs as root (as on AWS, function code
   * does not run as root: it cannot change its package, nor files the worker owns). 65534 is
   * Debian's nobody/nogroup. SANDBOX_UID=0 keeps sandboxes as root. Ignored for a non-root
   * worker, whose sandboxes run as its own user.
   */
  @IsInt() @Min(0) @Max(4_294_967_294)
  SANDBOX_UID: number = 65_534;

  @IsInt() @Min(0) @Max(4_294_967_294)
  SANDBOX_GID: number = 65_534;

  /** Where deployment packages are unpacked. */
  @IsString()
  CODE_DIR: string = join(tmpdir(), 'tributary-code');

  /**
   * Each sandbox's /tmp is a directory of its own under this one, removed with the sandbox
   * (AWS's ephemeral storage; its size is not limited here).
   */
  @IsString()
  SANDBOX_TMP_DIR: string = join(tmpdir(), 'tributary-sandbox-tmp');

  /** Handed to every function as AWS_ENDPOINT_URL_S3, so the AWS SDK reaches the object store. */
  @IsOptional() @IsString()
  AWS_ENDPOINT_URL_S3?: string;

  /** Credentials standing in for the execution role (handed to functions as AWS_ACCESS_KEY_ID …). */
  @IsOptional() @IsString()
  FUNCTION_ACCESS_KEY_ID?: string;

  @IsOptional() @IsString()
  FUNCTION_SECRET_ACCESS_KEY?: string;
}
