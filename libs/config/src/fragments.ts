import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, Min, ValidateBy } from 'class-validator';
import { DEFAULT_NAMES, type ResourceNames } from '@tributary/contracts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ctor<T = object> = new (...args: any[]) => T;

const NAME = /^[A-Za-z0-9_-]+$/;
const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** What every service shares: NATS, identity, logging, resource names, shutdown. */
export class BaseConfig {
  @IsString() @Matches(/^(nats|tls|ws|wss):\/\/\S+$|^[^\s/]+:\d+$/, { message: 'must be a NATS URL such as nats://127.0.0.1:4222' })
  NATS_URL = 'nats://127.0.0.1:4222';

  @IsOptional()
  @IsString()
  NATS_TOKEN?: string;

  @IsIn(['fatal', 'error', 'warn', 'log', 'info', 'debug', 'verbose'])
  LOG_LEVEL = 'info';

  @Matches(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, { message: 'must be an AWS region such as us-east-1' })
  AWS_REGION = 'us-east-1';

  @Matches(/^\d{12}$/, { message: 'must be 12 digits' })
  TRIBUTARY_ACCOUNT_ID = '000000000000';

  @IsInt() @Min(0) @Max(3_600_000)
  SHUTDOWN_GRACE_MS: number = 30_000;

  @Matches(NAME) EVENTS_STREAM: string = DEFAULT_NAMES.eventsStream;
  @Matches(SUBJECT) EVENTS_SUBJECT_ROOT = 'events';
  @Matches(NAME) DISPATCHER_CONSUMER: string = DEFAULT_NAMES.dispatcherConsumer;
  @Matches(NAME) FUNCTIONS_BUCKET: string = DEFAULT_NAMES.functionsBucket;
  @Matches(NAME) TRIGGERS_BUCKET: string = DEFAULT_NAMES.triggersBucket;
  @Matches(NAME) CODE_STORE: string = DEFAULT_NAMES.codeStore;
  @Matches(NAME) PAYLOAD_STORE: string = DEFAULT_NAMES.payloadStore;
  @Matches(NAME) QUEUE_PREFIX: string = DEFAULT_NAMES.queuePrefix;
  @Matches(SUBJECT) SUBJECT_PREFIX: string = DEFAULT_NAMES.subjectPrefix;

  /** Payloads above this many bytes travel through the payload store instead of inline. */
  @IsInt() @Min(1024) @Max(900 * 1024)
  INLINE_PAYLOAD_BYTES: number = 256 * 1024;

  /**
   * JetStream de-duplication window of the events streams: at most the six hours they keep a
   * message (EVENT_RETENTION_MS), as nats-server refuses a window longer than the stream's age.
   */
  @IsInt() @Min(120_000) @Max(21_600_000)
  DEDUPE_WINDOW_MS: number = 120_000;

  get names(): ResourceNames {
    return {
      eventsStream: this.EVENTS_STREAM,
      dispatcherConsumer: this.DISPATCHER_CONSUMER,
      functionsBucket: this.FUNCTIONS_BUCKET,
      triggersBucket: this.TRIGGERS_BUCKET,
      codeStore: this.CODE_STORE,
      payloadStore: this.PAYLOAD_STORE,
      queuePrefix: this.QUEUE_PREFIX,
      subjectPrefix: this.SUBJECT_PREFIX,
    };
  }
}

/** Adds an HTTP listener (the service's API, or just /health and /metrics). */
export const WithHttp = <B extends Ctor>(Base: B, defaultPort: number) => {
  class HttpConfig extends Base {
    @IsString() @IsNotEmpty()
    HOST = '127.0.0.1';

    @IsInt() @Min(0) @Max(65_535)
    PORT: number = defaultPort;

    /**
     * A request whose body has not all arrived this long after it began is answered 408 and its
     * connection closed (checked every 30 s). 5 minutes, Node's default: a 70 MB package at 250 KB/s.
     */
    @IsInt() @Min(1_000) @Max(3_600_000)
    HTTP_REQUEST_TIMEOUT_MS: number = 300_000;
  }
  return HttpConfig;
};

/** Adds Redis, for the services that touch BullMQ. */
export const WithRedis = <B extends Ctor>(Base: B) => {
  class RedisConfig extends Base {
    @Matches(/^rediss?:\/\/\S+$/, { message: 'must be a Redis URL such as redis://127.0.0.1:6379' })
    REDIS_URL = 'redis://127.0.0.1:6379';
  }
  return RedisConfig;
};

/**
 * Deployment packages no function uses any more: the API removes them from the code store and
 * each worker removes its unpacked copies.
 */
export const WithCodeCollection = <B extends Ctor>(Base: B) => {
  class CodeCollectionConfig extends Base {
    /** How often unused packages are looked for and removed; 0 turns that off. */
    @IsInt() @Min(0) @Max(86_400_000)
    CODE_GC_INTERVAL_MS: number = 600_000;

    /** An unused package stored or unpacked less than this long ago is kept (it may be about to be used). */
    @IsInt() @Min(1000) @Max(604_800_000)
    CODE_GC_GRACE_MS: number = 3_600_000;
  }
  return CodeCollectionConfig;
};

/** The S3-compatible object store Tributary talks to (MinIO, say); unset: AWS S3 itself. */
export const WithObjectStore = <B extends Ctor>(Base: B) => {
  class ObjectStoreConfig extends Base {
    @IsOptional() @Matches(/^https?:\/\/\S+$/, { message: 'must be an http(s) URL such as http://127.0.0.1:9000' })
    S3_ENDPOINT?: string;

    @IsOptional() @IsString() S3_ACCESS_KEY_ID?: string;
    @IsOptional() @IsString() S3_SECRET_ACCESS_KEY?: string;
  }
  return ObjectStoreConfig;
};

/**
 * `ACCESS_KEY_ID:SECRET_ACCESS_KEY` pairs, comma separated (a secret may hold any character but a
 * comma), as the services' configuration takes them.
 */
export const parseCredentialList = (list: string): Map<string, string> => {
  const credentials = new Map<string, string>();
  for (const pair of list.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const colon = pair.indexOf(':');
    if (colon <= 0 || colon === pair.length - 1 || /\s/.test(pair.slice(0, colon))) {
      throw new Error(`'${pair.slice(0, Math.max(colon, 0)) || '…'}:…' is not ACCESS_KEY_ID:SECRET_ACCESS_KEY`);
    }
    credentials.set(pair.slice(0, colon), pair.slice(colon + 1));
  }
  if (credentials.size === 0) throw new Error('no ACCESS_KEY_ID:SECRET_ACCESS_KEY pair');
  return credentials;
};

const isCredentialList = (list: string): boolean => {
  try {
    parseCredentialList(list);
    return true;
  } catch {
    return false;
  }
};

/** The access keys a service's AWS-style API takes SigV4 signatures of. */
export const WithApiCredentials = <B extends Ctor>(Base: B) => {
  class ApiCredentialsConfig extends Base {
    /**
     * `ACCESS_KEY_ID:SECRET_ACCESS_KEY` pairs separated by commas, the same for the Lambda API and
     * s3-ingest's bucket-notification API. Unset, both take every call unsigned, from anyone who
     * can reach their ports.
     */
    @IsOptional()
    @ValidateBy({
      name: 'credentialList',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && isCredentialList(value),
        defaultMessage: () => 'must be ACCESS_KEY_ID:SECRET_ACCESS_KEY pairs separated by commas',
      },
    })
    API_CREDENTIALS?: string;

    /**
     * With API_CREDENTIALS: bytes of request bodies held at once before their signature can be
     * checked (clients that sign the body, not its declared hash, as boto3 does); more are
     * answered "slow down", which SDKs retry.
     */
    @IsInt() @Min(1024 * 1024) @Max(16 * 1024 * 1024 * 1024)
    UNVERIFIED_BODY_BYTES: number = 256 * 1024 * 1024;
  }
  return ApiCredentialsConfig;
};
