import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { FUNCTION_NAME_OR_ARN_PATTERN, KNOWN_RUNTIMES, LAMBDA_LIMITS } from './lambda.js';
import { MapMember } from './validate.js';

/*
 * Request bodies of the Lambda API (REST-JSON, member names as in the AWS API model). Messages
 * are written as the API's ValidationException words them, so a constraint violation reads as
 * it does on AWS: "Value 'x' at 'memorySize' failed to satisfy constraint: <message>".
 */

const MIN = (n: number) => ({ message: `Member must have value greater than or equal to ${n}` });
const MAX = (n: number) => ({ message: `Member must have value less than or equal to ${n}` });
const MAX_LEN = (n: number) => ({ message: `Member must have length less than or equal to ${n}` });
const MIN_LEN = (n: number) => ({ message: `Member must have length greater than or equal to ${n}` });
const ENUM = (values: readonly string[]) => ({ message: `Member must satisfy enum value set: [${values.join(', ')}]` });
const PATTERN = (re: RegExp) => ({ message: `Member must satisfy regular expression pattern: ${re.source.replace(/^\^|\$$/g, '')}` });
const INT = { message: 'Member must be an integer' };
const STRING = { message: 'Member must be a string' };
const BOOL = { message: 'Member must be a boolean' };
/** A nested structure: without it, ValidateNested passes an array (`"Environment": []`) with no items to check. */
const STRUCT = { message: 'Member must be a structure' };

export const HANDLER_PATTERN = /^[^\s]+$/;
export const ROLE_PATTERN = /^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;
export const PACKAGE_TYPES = ['Zip', 'Image'] as const;
export const ARCHITECTURES = ['x86_64', 'arm64'] as const;

/** AWS's S3Bucket member: S3's bucket characters, not ending in a dot (its message spells the model's pattern). */
const CODE_BUCKET_PATTERN = /^[0-9A-Za-z.\-_]*(?<!\.)$/;
const CODE_BUCKET_MESSAGE = { message: 'Member must satisfy regular expression pattern: ^[0-9A-Za-z\\.\\-_]*(?<!\\.)$' };

export class FunctionCodeDto {
  @IsOptional() @IsString(STRING) ZipFile?: string;
  @IsOptional() @IsString(STRING) @MinLength(3, MIN_LEN(3)) @MaxLength(63, MAX_LEN(63)) @Matches(CODE_BUCKET_PATTERN, CODE_BUCKET_MESSAGE) S3Bucket?: string;
  @IsOptional() @IsString(STRING) @MinLength(1, MIN_LEN(1)) @MaxLength(1024, MAX_LEN(1024)) S3Key?: string;
  @IsOptional() @IsString(STRING) @MinLength(1, MIN_LEN(1)) @MaxLength(1024, MAX_LEN(1024)) S3ObjectVersion?: string;
  @IsOptional() @IsString(STRING) ImageUri?: string;
}

export class EnvironmentDto {
  @IsOptional() @MapMember('Member must be a map of strings') Variables?: Record<string, string>;
}

export class EphemeralStorageDto {
  @IsInt(INT) @Min(512, MIN(512)) @Max(10_240, MAX(10_240)) Size!: number;
}

export const TRACING_MODES = ['Active', 'PassThrough'] as const;
export const LOG_FORMATS = ['JSON', 'Text'] as const;
/** LoggingConfig.ApplicationLogLevel, from the most verbose. */
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
/** LoggingConfig.SystemLogLevel: the levels of Lambda's own (platform) log records. */
export const SYSTEM_LOG_LEVELS = ['DEBUG', 'INFO', 'WARN'] as const;
export const LOG_GROUP_PATTERN = /^[.\-_/#A-Za-z0-9]+$/;

export class TracingConfigDto {
  @IsOptional() @IsIn(TRACING_MODES, ENUM(TRACING_MODES)) Mode?: string;
}

export class LoggingConfigDto {
  @IsOptional() @IsIn(LOG_FORMATS, ENUM(LOG_FORMATS)) LogFormat?: string;
  @IsOptional() @IsIn(LOG_LEVELS, ENUM(LOG_LEVELS)) ApplicationLogLevel?: string;
  @IsOptional() @IsIn(SYSTEM_LOG_LEVELS, ENUM(SYSTEM_LOG_LEVELS)) SystemLogLevel?: string;
  @IsOptional() @IsString(STRING) @MinLength(1, MIN_LEN(1)) @MaxLength(512, MAX_LEN(512)) @Matches(LOG_GROUP_PATTERN, PATTERN(LOG_GROUP_PATTERN)) LogGroup?: string;
}

export class DeadLetterConfigDto {
  @IsOptional() @IsString(STRING) TargetArn?: string;
}

export const SNAP_START_APPLY_ON = ['PublishedVersions', 'None'] as const;
export const LAYER_VERSION_ARN_PATTERN = /^arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+$/;

export class SnapStartDto {
  @IsOptional() @IsIn(SNAP_START_APPLY_ON, ENUM(SNAP_START_APPLY_ON)) ApplyOn?: string;
}

export class VpcConfigDto {
  @IsOptional() @IsArray() @ArrayMaxSize(16, MAX_LEN(16)) @IsString({ each: true, ...STRING }) SubnetIds?: string[];
  @IsOptional() @IsArray() @ArrayMaxSize(5, MAX_LEN(5)) @IsString({ each: true, ...STRING }) SecurityGroupIds?: string[];
  @IsOptional() @IsBoolean(BOOL) Ipv6AllowedForDualStack?: boolean;
}

/** Fields shared by CreateFunction and UpdateFunctionConfiguration. */
export class FunctionSettingsDto {
  @IsOptional() @IsIn(KNOWN_RUNTIMES, ENUM(KNOWN_RUNTIMES)) Runtime?: string;
  @IsOptional() @IsString(STRING) @Matches(ROLE_PATTERN, PATTERN(ROLE_PATTERN)) Role?: string;
  @IsOptional() @IsString(STRING) @MaxLength(LAMBDA_LIMITS.handlerMax, MAX_LEN(LAMBDA_LIMITS.handlerMax)) @Matches(HANDLER_PATTERN, PATTERN(HANDLER_PATTERN)) Handler?: string;
  @IsOptional() @IsString(STRING) @MaxLength(LAMBDA_LIMITS.descriptionMax, MAX_LEN(LAMBDA_LIMITS.descriptionMax)) Description?: string;
  @IsOptional() @IsInt(INT) @Min(LAMBDA_LIMITS.timeoutMin, MIN(LAMBDA_LIMITS.timeoutMin)) @Max(LAMBDA_LIMITS.timeoutMax, MAX(LAMBDA_LIMITS.timeoutMax)) Timeout?: number;
  @IsOptional() @IsInt(INT) @Min(LAMBDA_LIMITS.memoryMin, MIN(LAMBDA_LIMITS.memoryMin)) @Max(LAMBDA_LIMITS.memoryMax, MAX(LAMBDA_LIMITS.memoryMax)) MemorySize?: number;
  @IsOptional() @IsObject(STRUCT) @ValidateNested() @Type(() => EnvironmentDto) Environment?: EnvironmentDto;
  @IsOptional() @IsObject(STRUCT) @ValidateNested() @Type(() => EphemeralStorageDto) EphemeralStorage?: EphemeralStorageDto;
  @IsOptional() @IsObject(STRUCT) @ValidateNested() @Type(() => TracingConfigDto) TracingConfig?: TracingConfigDto;
  @IsOptional() @IsObject(STRUCT) @ValidateNested() @Type(() => LoggingConfigDto) LoggingConfig?: LoggingConfigDto;
  @IsOptional() @IsObject(STRUCT) @ValidateNested() @Type(() => DeadLetterConfigDto) DeadLetterConfig?: DeadLetterConfigDto;
  @IsOptional() @IsObject(STRUCT) @ValidateNested() @Type(() => SnapStartDto) SnapStart?: SnapStartDto;
  @IsOptional() @IsObject(STRUCT) @ValidateNested() @Type(() => VpcConfigDto) VpcConfig?: VpcConfigDto;
  @IsOptional() @IsArray() @ArrayMaxSize(5, MAX_LEN(5)) @Matches(LAYER_VERSION_ARN_PATTERN, { each: true, ...PATTERN(LAYER_VERSION_ARN_PATTERN) }) Layers?: string[];
  // Settings this build cannot honour: typed here so that they are refused, not dropped.
  @IsOptional() @IsString(STRING) KMSKeyArn?: string;
  @IsOptional() @IsArray() FileSystemConfigs?: unknown[];
  @IsOptional() @IsObject() ImageConfig?: Record<string, unknown>;
}

export class CreateFunctionDto extends FunctionSettingsDto {
  @IsString(STRING) @MinLength(1, MIN_LEN(1)) @MaxLength(140, MAX_LEN(140)) @Matches(FUNCTION_NAME_OR_ARN_PATTERN, PATTERN(FUNCTION_NAME_OR_ARN_PATTERN)) FunctionName!: string;
  @IsObject(STRUCT) @ValidateNested() @Type(() => FunctionCodeDto) Code!: FunctionCodeDto;
  @IsOptional() @IsBoolean(BOOL) Publish?: boolean;
  @IsOptional() @IsIn(PACKAGE_TYPES, ENUM(PACKAGE_TYPES)) PackageType?: string;
  @IsOptional() @IsArray() @ArrayMinSize(1, MIN_LEN(1)) @ArrayMaxSize(1, MAX_LEN(1)) @IsIn(ARCHITECTURES, { each: true, ...ENUM(ARCHITECTURES) }) Architectures?: string[];
  @IsOptional() @MapMember('Member must be a map of strings') Tags?: Record<string, unknown>;
  @IsOptional() @IsString(STRING) CodeSigningConfigArn?: string;
}

/** TagResource (`POST /2017-03-31/tags/{ARN}`). */
export class TagResourceDto {
  @MapMember('Member must be a map of strings') Tags!: Record<string, unknown>;
}

export class UpdateFunctionConfigurationDto extends FunctionSettingsDto {
  @IsOptional() @IsString(STRING) RevisionId?: string;
}

/** UpdateFunctionCode: the code members of CreateFunction's `Code`, at the top level, and more. */
export class UpdateFunctionCodeDto extends FunctionCodeDto {
  @IsOptional() @IsBoolean(BOOL) Publish?: boolean;
  @IsOptional() @IsBoolean(BOOL) DryRun?: boolean;
  @IsOptional() @IsString(STRING) RevisionId?: string;
  @IsOptional() @IsArray() @ArrayMinSize(1, MIN_LEN(1)) @ArrayMaxSize(1, MAX_LEN(1)) @IsIn(ARCHITECTURES, { each: true, ...ENUM(ARCHITECTURES) }) Architectures?: string[];
}

export const FUNCTION_URL_AUTH_TYPES = ['NONE', 'AWS_IAM'] as const;
const STATEMENT_ID_PATTERN = /^[a-zA-Z0-9-_]+$/;
const ACTION_PATTERN = /^(lambda:[*]|lambda:[a-zA-Z]+|[*])$/;
const PRINCIPAL_PATTERN = /^[^\s]+$/;
const SOURCE_ARN_PATTERN = /^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)$/;
const SOURCE_ACCOUNT_PATTERN = /^\d{12}$/;
const EVENT_SOURCE_TOKEN_PATTERN = /^[a-zA-Z0-9._-]+$/;
const ORG_ID_PATTERN = /^o-[a-z0-9]{10,32}$/;

/** AddPermission (`POST /2015-03-31/functions/{name}/policy`), constrained as the API model has it. */
export class AddPermissionDto {
  @IsString(STRING) @MinLength(1, MIN_LEN(1)) @MaxLength(100, MAX_LEN(100)) @Matches(STATEMENT_ID_PATTERN, PATTERN(STATEMENT_ID_PATTERN)) StatementId!: string;
  @IsString(STRING) @Matches(ACTION_PATTERN, PATTERN(ACTION_PATTERN)) Action!: string;
  @IsString(STRING) @Matches(PRINCIPAL_PATTERN, PATTERN(PRINCIPAL_PATTERN)) Principal!: string;
  @IsOptional() @IsString(STRING) @Matches(SOURCE_ARN_PATTERN, { message: 'Member must satisfy regular expression pattern: arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)' }) SourceArn?: string;
  @IsOptional() @IsString(STRING) @MaxLength(12, MAX_LEN(12)) @Matches(SOURCE_ACCOUNT_PATTERN, PATTERN(SOURCE_ACCOUNT_PATTERN)) SourceAccount?: string;
  @IsOptional() @IsString(STRING) @MaxLength(256, MAX_LEN(256)) @Matches(EVENT_SOURCE_TOKEN_PATTERN, { message: 'Member must satisfy regular expression pattern: [a-zA-Z0-9._\\-]+' }) EventSourceToken?: string;
  @IsOptional() @IsString(STRING) RevisionId?: string;
  @IsOptional() @IsString(STRING) @MinLength(12, MIN_LEN(12)) @MaxLength(34, MAX_LEN(34)) @Matches(ORG_ID_PATTERN, PATTERN(ORG_ID_PATTERN)) PrincipalOrgID?: string;
  @IsOptional() @IsIn(FUNCTION_URL_AUTH_TYPES, ENUM(FUNCTION_URL_AUTH_TYPES)) FunctionUrlAuthType?: string;
  @IsOptional() @IsBoolean(BOOL) InvokedViaFunctionUrl?: boolean;
}

export const RUNTIME_UPDATE_MODES = ['Auto', 'Manual', 'FunctionUpdate'] as const;

/** PutRuntimeManagementConfig (`PUT /2021-07-20/functions/{name}/runtime-management-config`). */
export class PutRuntimeManagementConfigDto {
  @IsIn(RUNTIME_UPDATE_MODES, ENUM(RUNTIME_UPDATE_MODES)) UpdateRuntimeOn!: string;
  @IsOptional() @IsString(STRING) RuntimeVersionArn?: string;
}

export const INVOCATION_TYPES = ['RequestResponse', 'Event', 'DryRun'] as const;
export const LOG_TYPES = ['None', 'Tail'] as const;
