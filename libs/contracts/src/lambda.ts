/** Limits and identifiers of the AWS Lambda API that Tributary reproduces. */
export const LAMBDA_LIMITS = {
  /** Invoke payload, RequestResponse (6 MB). */
  syncPayloadBytes: 6 * 1024 * 1024,
  /** Invoke payload, Event (AWS raised it from 256 KB to 1 MB in October 2025). */
  asyncPayloadBytes: 1024 * 1024,
  /** InvokeAsync, the deprecated API, keeps the Event limit of before October 2025 (256 KB). */
  invokeAsyncPayloadBytes: 256 * 1024,
  /**
   * Result of a synchronous invocation: 6 MB and 100 bytes, the figure AWS's error message names
   * ("maximum allowed payload size (6291556 bytes)") and its runtime interface emulator enforces.
   */
  syncResponseBytes: 6 * 1024 * 1024 + 100,
  /**
   * What a streaming handler may send through InvokeWithResponseStream (AWS: 200 MB since July
   * 2025, 20 MB before). A slow reader holds the function back; nothing on the way keeps it all.
   */
  streamedResponseBytes: 200 * 1024 * 1024,
  /** Zipped deployment package uploaded directly (50 MB). */
  zipBytes: 50 * 1024 * 1024,
  /** Deployment package taken from S3 (Code.S3Bucket/S3Key): AWS's limit of 250 MB unzipped bounds it. */
  s3ZipBytes: 250 * 1024 * 1024,
  /** A package's contents, unzipped (AWS: "Unzipped size must be smaller than 262144000 bytes"). */
  unzippedBytes: 262_144_000,
  /**
   * Request body of CreateFunction / UpdateFunctionCode: the zip, base64-encoded, plus JSON
   * (AWS: "Request must be smaller than 70167211 bytes for the CreateFunction operation").
   */
  codeRequestBytes: 70_167_211,
  timeoutMin: 1,
  timeoutMax: 900,
  timeoutDefault: 3,
  memoryMin: 128,
  memoryMax: 10_240,
  memoryDefault: 128,
  /** EphemeralStorage.Size, MB, when none is given. */
  ephemeralStorageDefault: 512,
  /** Bytes of log output returned by `X-Amz-Log-Type: Tail`. */
  logTailBytes: 4096,
  /** Total size of environment variables (4 KB). */
  environmentBytes: 4096,
  descriptionMax: 256,
  handlerMax: 128,
  functionNameMax: 64,
  listMaxItems: 50,
  /** Open files a function's process may hold (AWS's quota: "File descriptors 1,024"). */
  fileDescriptors: 1024,
  /** Processes and threads of an execution environment (AWS's quota: "Execution processes/threads 1,024"). */
  processes: 1024,
} as const;

/** Runtimes this build can execute, each on its own Node.js (libs/runtime/node-runtimes.json; see ARCHITECTURE.md). */
export const SUPPORTED_RUNTIMES = ['nodejs18.x', 'nodejs20.x', 'nodejs22.x', 'nodejs24.x', 'nodejs26.x'] as const;
export type SupportedRuntime = (typeof SUPPORTED_RUNTIMES)[number];

/**
 * Node.js runtimes refused with AWS's deprecation message: no function may be created with one or
 * changed to one. A function stored with one before still runs. nodejs18.x is past AWS's blocks
 * too, but shared/aws-events names it among the runtimes Tributary runs (see ARCHITECTURE.md).
 */
export const BLOCKED_RUNTIMES = [
  'nodejs', 'nodejs4.3', 'nodejs4.3-edge', 'nodejs6.10', 'nodejs8.10', 'nodejs10.x', 'nodejs12.x', 'nodejs14.x', 'nodejs16.x',
] as const;

/**
 * Every value of the Runtime enum in the Lambda API model (as of `@aws-sdk/client-lambda`
 * 3.1178). A value outside this list is a ValidationException; a value in it that we cannot run
 * is an InvalidParameterValueException.
 */
export const KNOWN_RUNTIMES = [
  'nodejs', 'nodejs4.3', 'nodejs6.10', 'nodejs8.10', 'nodejs10.x', 'nodejs12.x', 'nodejs14.x',
  'nodejs16.x', 'nodejs18.x', 'nodejs20.x', 'nodejs22.x', 'nodejs24.x', 'nodejs26.x', 'nodejs4.3-edge',
  'java8', 'java8.al2', 'java8.al2023', 'java11', 'java11.al2023', 'java17', 'java17.al2023', 'java21', 'java25',
  'python2.7', 'python3.6', 'python3.7', 'python3.8', 'python3.9', 'python3.10', 'python3.11',
  'python3.12', 'python3.13', 'python3.14', 'python3.15',
  'dotnetcore1.0', 'dotnetcore2.0', 'dotnetcore2.1', 'dotnetcore3.1', 'dotnet6', 'dotnet8', 'dotnet10',
  'go1.x', 'ruby2.5', 'ruby2.7', 'ruby3.2', 'ruby3.3', 'ruby3.4', 'ruby4.0',
  'provided', 'provided.al2', 'provided.al2023', 'custom',
] as const;

export const isBlockedRuntime = (runtime: string): boolean => (BLOCKED_RUNTIMES as readonly string[]).includes(runtime);

export const isSupportedRuntime = (runtime: string): runtime is SupportedRuntime =>
  (SUPPORTED_RUNTIMES as readonly string[]).includes(runtime);

/** `[A-Za-z0-9_-]{1,64}`: a bare function name as the Lambda API accepts it. */
export const FUNCTION_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/** The FunctionName member as the API model constrains it: a name, a partial ARN or a full ARN. */
export const FUNCTION_NAME_OR_ARN_PATTERN =
  /^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$/;

/** The Resource of ListTags, TagResource and UntagResource as the API model constrains it: an ARN, never a bare name. */
export const TAGGABLE_RESOURCE_PATTERN =
  /^arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)$/;

export const LATEST = '$LATEST';

/** Environment variable names the platform sets and a user may not (as on AWS). */
export const RESERVED_ENVIRONMENT_KEYS = [
  '_HANDLER', '_X_AMZN_TRACE_ID', 'AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API', 'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR',
] as const;

export interface LambdaIdentity {
  region: string;
  accountId: string;
}

export const functionArn = (id: LambdaIdentity, name: string, qualifier?: string): string =>
  `arn:aws:lambda:${id.region}:${id.accountId}:function:${name}${qualifier ? `:${qualifier}` : ''}`;

export interface FunctionReference {
  name: string;
  qualifier?: string;
  /** Of a full ARN. */
  region?: string;
  /** Of a full or partial ARN. */
  accountId?: string;
}

/** Splits `name`, `name:qual`, `123456789012:function:name[:qual]` or a full ARN. */
export const parseFunctionName = (value: string): FunctionReference | undefined => {
  const match = FUNCTION_NAME_OR_ARN_PATTERN.exec(value);
  if (!match) return undefined;
  const [, arnPrefix, , region, , account, functionPart, name, , qualifier] = match;
  if (!name || name.length > LAMBDA_LIMITS.functionNameMax) return undefined;
  // A full ARN needs every part; `acct:name` without `function:` is not a function name.
  if (arnPrefix && !(region && account && functionPart)) return undefined;
  if (account && !functionPart) return undefined;
  return {
    name,
    ...(qualifier ? { qualifier } : {}),
    ...(region ? { region: region.slice(0, -1) } : {}),
    ...(account ? { accountId: account.slice(0, -1) } : {}),
  };
};

/** The Qualifier member as the API model constrains it. */
export const QUALIFIER_PATTERN = /^(|[a-zA-Z0-9$_-]+)$/;
