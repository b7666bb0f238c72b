import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
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
   * When the worker runs as root, function code does not (as on AWS: it cannot change its
   * package, nor files the worker owns), and every live sandbox runs as a user of its own: uids
   * SANDBOX_UID … SANDBOX_UID + SANDBOX_UID_COUNT − 1, group SANDBOX_GID. The kernel lets a
   * process read another's environment (its secrets), memory or /tmp through /proc, or signal
   * it, only when both run as the same user; on AWS each sandbox is a microVM of its own. The
   * default range, 60000–60999, lies above the accounts adduser makes (up to 59999), below
   * systemd's dynamic users (61184–65519), and inside the 65,536 uids a rootless container maps.
   * The range must be this worker's alone (in containers, each has its own): uids an account
   * uses are refused, and every process of a uid is killed when a sandbox gives it up.
   * A worker claims its range in /run/lock/tributary-sandbox-uids and will not start while a
   * live worker on this host (same PID namespace) claims one that overlaps it.
   * SANDBOX_UID=0 keeps sandboxes as root. Ignored for a non-root worker, whose sandboxes run as
   * its own user.
   */
  @IsInt() @Min(0) @Max(4_294_967_294)
  SANDBOX_UID: number = 60_000;

  /** Sandboxes one worker may run at once, each with a uid of its own (see SANDBOX_UID). */
  @IsInt() @Min(1) @Max(1_000_000)
  SANDBOX_UID_COUNT: number = 1_000;

  /** 65534 is Debian's nogroup. */
  @IsInt() @Min(0) @Max(4_294_967_294)
  SANDBOX_GID: number = 65_534;

  /** Where deployment packages are unpacked. */
  @IsString()
  CODE_DIR: string = join(tmpdir(), 'tributary-code');

  /**
   * Where the worker cannot give a sandbox mounts of its own, its TMPDIR is a directory of its
   * own under this one, removed with the sandbox, of no fixed size. (With them, its /tmp is a
   * tmpfs as big as the function's EphemeralStorage.)
   */
  @IsString()
  SANDBOX_TMP_DIR: string = join(tmpdir(), 'tributary-sandbox-tmp');

  /**
   * Where the Node.js of each runtime is installed: nodejs22.x runs on Node.js 22, nodejs26.x
   * on Node.js 26, as on AWS (npm ci puts them in .runtimes in the checkout). One missing there
   * runs on the worker's own Node.js, with a warning at start.
   */
  @IsOptional() @IsString()
  NODE_RUNTIMES_DIR?: string;

  /** Handed to every function as AWS_ENDPOINT_URL_S3, so the AWS SDK reaches the object store. */
  @IsOptional() @IsString()
  AWS_ENDPOINT_URL_S3?: string;

  /**
   * Handed to every function as AWS_ENDPOINT_URL_LAMBDA, so a handler's `new LambdaClient()`
   * invokes this installation's functions (the API's URL as the worker reaches it).
   */
  @IsOptional() @Matches(/^https?:\/\/\S+$/, { message: 'must be an http(s) URL such as http://127.0.0.1:9001' })
  AWS_ENDPOINT_URL_LAMBDA?: string;

  /**
   * Credentials standing in for the execution role, handed to every function as
   * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: AWS always sets them, and the AWS SDK in a
   * handler fails before it sends anything without them. The defaults are what an API without
   * API_CREDENTIALS takes (it takes any); with API_CREDENTIALS, or an object store that checks
   * keys, set a pair they accept.
   */
  @IsString() @Matches(/^\S+$/, { message: 'must be an access key id without spaces' })
  FUNCTION_ACCESS_KEY_ID: string = 'tributary-function';

  @IsString() @Matches(/^\S+$/, { message: 'must be a secret without spaces' })
  FUNCTION_SECRET_ACCESS_KEY: string = 'tributary-function-secret';

  /** Handed to functions as AWS_SESSION_TOKEN, where the role's credentials are temporary ones. */
  @IsOptional() @IsString()
  FUNCTION_SESSION_TOKEN?: string;
}
