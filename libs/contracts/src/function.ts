import { LAMBDA_LIMITS } from './lambda.js';

/**
 * A function as the registry stores it (one KV entry per function, keyed by name).
 * Persisted: add fields as optional, never rename one.
 */
export interface FunctionRecord {
  v: 1;
  name: string;
  runtime: string;
  handler: string;
  role: string;
  description: string;
  /** Seconds. */
  timeout: number;
  /** MB. */
  memorySize: number;
  environment: Record<string, string>;
  architectures: string[];
  ephemeralStorageMb: number;
  /** SHA-256 of the zip, base64, as the Lambda API reports it. */
  codeSha256: string;
  /** Object-store key of the zip: the SHA-256 in hex. */
  codeKey: string;
  codeSize: number;
  /** Changes with every update of code or configuration (the API's RevisionId). */
  revisionId: string;
  /** ISO 8601 with milliseconds and `+0000`, as the Lambda API writes it. */
  lastModified: string;
  createdAt: string;
  /** Tags (TagResource, or Tags on CreateFunction). Absent on records written before tags existed. */
  tags?: Record<string, string>;
  /** TracingConfig.Mode; absent means PassThrough. Recorded and reported; no traces are collected. */
  tracingMode?: 'Active' | 'PassThrough';
  /** LoggingConfig.LogGroup; absent means `/aws/lambda/<name>`. */
  logGroup?: string;
  /** LoggingConfig with LogFormat JSON (absent: Text, whose logs have no levels). */
  jsonLogs?: JsonLogging;
  /** Statements of the resource-based policy added with AddPermission, in the order added. */
  permissions?: PolicyStatement[];
  /** GetPolicy's RevisionId once AddPermission or RemovePermission changed the policy. */
  policyRevisionId?: string;
}

/** One statement of a function's resource-based policy, with AWS's members in AWS's order. */
export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Principal: '*' | { Service: string } | { AWS: string };
  Action: string;
  Resource: string;
  Condition?: Record<string, Record<string, string>>;
}

/** A function's JSON logging: the levels below which its own and Lambda's records are left out. */
export interface JsonLogging {
  /** ApplicationLogLevel: TRACE … FATAL (AWS_LAMBDA_LOG_LEVEL, honoured by the runtime's console). */
  applicationLogLevel: string;
  /** SystemLogLevel: DEBUG, INFO or WARN, for the platform's records (start, report). */
  systemLogLevel: string;
}

/** The settings a function has when CreateFunction leaves them out, as on AWS (a new object each call). */
export const functionDefaults = (): Pick<FunctionRecord, 'description' | 'timeout' | 'memorySize' | 'environment' | 'architectures' | 'ephemeralStorageMb'> => ({
  description: '',
  timeout: LAMBDA_LIMITS.timeoutDefault,
  memorySize: LAMBDA_LIMITS.memoryDefault,
  environment: {},
  architectures: ['x86_64'],
  ephemeralStorageMb: LAMBDA_LIMITS.ephemeralStorageDefault,
});

/**
 * Whether `record` is the function an invocation was made for: one deleted and created again
 * under the same name is another function (AWS discards a deleted function's queued events).
 * An invocation that does not say which (`created` absent) belongs to whatever has the name.
 */
export const isSameFunction = (record: Pick<FunctionRecord, 'createdAt'>, created: string | undefined): boolean =>
  created === undefined || record.createdAt === created;

/** A function's log group: LoggingConfig.LogGroup, or AWS's default. */
export const logGroupOf = (record: Pick<FunctionRecord, 'name' | 'logGroup'>): string => record.logGroup ?? `/aws/lambda/${record.name}`;

/** What a sandbox needs to run one revision of a function. */
export interface FunctionSpec {
  name: string;
  version: string;
  arn: string;
  runtime: string;
  handler: string;
  timeout: number;
  memorySize: number;
  /** EphemeralStorage.Size, MB: the size of the sandbox's /tmp where it has mounts of its own. */
  ephemeralStorageMb: number;
  environment: Record<string, string>;
  codeKey: string;
  revisionId: string;
  /** The function's log group (AWS_LAMBDA_LOG_GROUP_NAME, context.logGroupName). */
  logGroup: string;
  /** Log in JSON, at these levels (absent: in text). */
  jsonLogs?: JsonLogging;
}
