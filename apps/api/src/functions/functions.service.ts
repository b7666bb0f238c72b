import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { GetObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import {
  FUNCTION_NAME_OR_ARN_PATTERN,
  LAMBDA_LIMITS,
  LATEST,
  RESERVED_ENVIRONMENT_KEYS,
  CreateFunctionDto,
  FunctionCodeDto,
  TagResourceDto,
  UpdateFunctionCodeDto,
  PutRuntimeManagementConfigDto,
  UpdateFunctionConfigurationDto,
  functionArn,
  isBlockedRuntime,
  isSupportedRuntime,
  SUPPORTED_RUNTIMES,
  parseFunctionName,
  functionDefaults,
  QUALIFIER_PATTERN,
  TAGGABLE_RESOURCE_PATTERN,
  type FunctionReference,
  validateDto,
  type FunctionRecord,
  type FunctionSettingsDto,
  type JsonLogging,
  type LambdaIdentity,
  type LoggingConfigDto,
} from '@tributary/contracts';
import { FunctionExistsError, FunctionNotFoundError, FunctionRegistry, inspectZip, type FunctionEntry } from '@tributary/registry';
import { CODE_COLLECTION, type CodeCollectionSettings } from './code-collector.js';
import { LambdaError, LambdaErrorType } from './lambda-error.js';
import { lambdaTimestamp, toFunctionConfiguration, toListedConfiguration } from './function-configuration.js';

export const LAMBDA_IDENTITY = Symbol('LAMBDA_IDENTITY');
/** S3 client for deployment packages given as Code.S3Bucket/S3Key (the configured object store). */
export const CODE_SOURCE = Symbol('CODE_SOURCE');

/** The record members of TracingConfig and LoggingConfig.LogGroup, as far as `dto` sets them. */
const settingsOf = (dto: FunctionSettingsDto): Partial<Pick<FunctionRecord, 'tracingMode' | 'logGroup'>> => ({
  ...(dto.TracingConfig?.Mode != null && { tracingMode: dto.TracingConfig.Mode as 'Active' | 'PassThrough' }),
  ...(dto.LoggingConfig?.LogGroup != null && { logGroup: dto.LoggingConfig.LogGroup }),
});

/**
 * LoggingConfig's format and levels applied to those a function has (`current`; none for a new
 * one): JSON keeps the levels it had and takes INFO, AWS's default, for one never given; Text has
 * no levels, and levels for a function that stays in Text are refused.
 */
const jsonLogsAfter = (logging: LoggingConfigDto | undefined, current: JsonLogging | undefined): JsonLogging | undefined => {
  const format = logging?.LogFormat ?? (current ? 'JSON' : 'Text');
  if (format === 'Text') {
    if (logging?.ApplicationLogLevel !== undefined || logging?.SystemLogLevel !== undefined) {
      throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'LoggingConfig: ApplicationLogLevel and SystemLogLevel can be set only with LogFormat JSON.');
    }
    return undefined;
  }
  return {
    applicationLogLevel: logging?.ApplicationLogLevel ?? current?.applicationLogLevel ?? 'INFO',
    systemLogLevel: logging?.SystemLogLevel ?? current?.systemLogLevel ?? 'INFO',
  };
};

/** `record` with its JSON logging as `jsonLogs` says (none: text). */
const withJsonLogs = (record: FunctionRecord, jsonLogs: JsonLogging | undefined): FunctionRecord => {
  const next: FunctionRecord = { ...record };
  delete next.jsonLogs;
  return jsonLogs ? { ...next, jsonLogs } : next;
};

const DEFAULT_ROLE = (accountId: string) => `arn:aws:iam::${accountId}:role/tributary-function`;

/** A setting this build cannot honour: InvalidParameterValueException, saying why. */
export const unsupported = (setting: string, why: string): LambdaError =>
  new LambdaError(LambdaErrorType.InvalidParameterValue, `${setting} is not supported by this Tributary build: ${why}`);
/** ListFunctions' MasterRegion, as the API model has it. */
const MASTER_REGION_PATTERN = /^(ALL|[a-z]{2}(-gov)?-[a-z]+-\d{1})$/;
export const CODE_SIGNING_WHY = 'packages are not signed or checked.';
export const PUBLISH_WHY = 'functions have no published versions yet; invoke $LATEST.';

/** The Lambda API's function operations over the registry. */
@Injectable()
export class FunctionsService {
  constructor(
    @Inject(FunctionRegistry) private readonly registry: FunctionRegistry,
    @Inject(LAMBDA_IDENTITY) private readonly identity: LambdaIdentity,
    @Inject(CODE_SOURCE) private readonly s3: S3Client,
    @Inject(CODE_COLLECTION) private readonly collection: CodeCollectionSettings,
  ) {}

  /** Stores a package, renewing one stored long enough ago that the collector might take it (see putCode). */
  private storeCode(zip: Buffer) {
    return this.registry.putCode(zip, { renewAfterMs: this.collection.graceMs / 2 });
  }

  configuration(record: FunctionRecord, qualifier?: string) {
    return toFunctionConfiguration(record, this.identity, qualifier);
  }

  /**
   * Resolves a FunctionName path member to a stored function, or answers ResourceNotFound. The
   * qualifier it answers with is the one the caller named (in the name or as Qualifier), if any.
   */
  async resolve(nameOrArn: string, qualifier?: string): Promise<FunctionEntry & { qualifier?: string }> {
    const parsed = this.parseName(nameOrArn);
    if (qualifier !== undefined) {
      const broken =
        qualifier.length < 1 ? 'Member must have length greater than or equal to 1'
        : qualifier.length > 128 ? 'Member must have length less than or equal to 128'
        : !QUALIFIER_PATTERN.test(qualifier) ? `Member must satisfy regular expression pattern: ${QUALIFIER_PATTERN.source.replace(/^\^|\$$/g, '')}`
        : undefined;
      if (broken) throw LambdaError.validation([{ path: 'qualifier', value: qualifier, constraints: [broken] }]);
      if (parsed.qualifier !== undefined && parsed.qualifier !== qualifier) {
        throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'The derived qualifier from the function name does not match the specified qualifier.');
      }
    }
    const wanted = qualifier ?? parsed.qualifier;
    const entry = await this.registry.getFresh(parsed.name, this.registry.get(parsed.name) ? 0 : undefined);
    if (!entry) throw LambdaError.notFound(functionArn(this.identity, parsed.name, wanted));
    // Versions and aliases arrive with their own issue: only $LATEST exists today.
    if (wanted !== undefined && wanted !== LATEST) throw LambdaError.notFound(functionArn(this.identity, parsed.name, wanted));
    return { ...entry, qualifier: wanted };
  }

  parseName(nameOrArn: string): FunctionReference {
    const parsed = parseFunctionName(nameOrArn);
    // Only for a name refused: the pattern again, for the part it holds as the name.
    const name = parsed ? undefined : FUNCTION_NAME_OR_ARN_PATTERN.exec(nameOrArn)?.[7];
    if (!parsed && name !== undefined && (name.length > LAMBDA_LIMITS.functionNameMax || nameOrArn.length > 256)) {
      // The pattern holds, and the length is what is wrong: the model's (256 characters for a name
      // or ARN that names a function, a version or an alias) as ValidationException, or the
      // service's 64 for the name in it as InvalidParameterValueException.
      const tooLong = nameOrArn.length > 256;
      const max = tooLong ? 256 : LAMBDA_LIMITS.functionNameMax;
      throw LambdaError.validation(
        [{ path: 'functionName', value: nameOrArn, constraints: [`Member must have length less than or equal to ${max}`] }],
        tooLong ? LambdaErrorType.Validation : LambdaErrorType.InvalidParameterValue,
      );
    }
    if (!parsed) {
      throw LambdaError.validation([
        {
          path: 'functionName',
          value: nameOrArn,
          constraints: [
            'Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?',
          ],
        },
      ]);
    }
    // This installation is one region of one account: an ARN of another names nothing here.
    if (parsed.region !== undefined && parsed.region !== this.identity.region) {
      throw new LambdaError(LambdaErrorType.ResourceNotFound, `Functions from '${parsed.region}' are not reachable in this region ('${this.identity.region}')`);
    }
    if (parsed.accountId !== undefined && parsed.accountId !== this.identity.accountId) {
      throw LambdaError.notFound(nameOrArn);
    }
    return parsed;
  }

  async create(body: unknown) {
    const dto = this.validate(CreateFunctionDto, body);
    const { name, qualifier } = this.parseName(dto.FunctionName);
    if (qualifier) throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'FunctionName must not include a qualifier when creating a function.');
    if ((dto.PackageType ?? 'Zip') !== 'Zip') {
      throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'Only the Zip package type is supported by this Tributary build.');
    }
    if (!dto.Runtime) throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'Runtime must be specified for a function with the Zip package type.');
    if (!dto.Handler) throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'Handler must be specified for a function with the Zip package type.');
    if (dto.Publish) throw unsupported('Publish', PUBLISH_WHY);
    if (dto.CodeSigningConfigArn) throw unsupported('CodeSigningConfigArn', CODE_SIGNING_WHY);
    this.checkSettings(dto);
    const tags = dto.Tags === undefined ? {} : this.checkTags(dto.Tags);
    const zip = await this.zipFrom(dto.Code);
    if (this.registry.get(name)) throw new LambdaError(LambdaErrorType.ResourceConflict, `Function already exist: ${name}`);
    const code = await this.storeCode(zip);
    const now = new Date();
    const defaults = functionDefaults();
    const jsonLogs = jsonLogsAfter(dto.LoggingConfig, undefined);
    const record: FunctionRecord = {
      v: 1,
      name,
      runtime: dto.Runtime,
      handler: dto.Handler,
      role: dto.Role ?? DEFAULT_ROLE(this.identity.accountId),
      description: dto.Description ?? defaults.description,
      timeout: dto.Timeout ?? defaults.timeout,
      memorySize: dto.MemorySize ?? defaults.memorySize,
      environment: dto.Environment?.Variables ?? defaults.environment,
      architectures: dto.Architectures ?? defaults.architectures,
      ephemeralStorageMb: dto.EphemeralStorage?.Size ?? defaults.ephemeralStorageMb,
      ...settingsOf(dto),
      ...(jsonLogs ? { jsonLogs } : {}),
      ...code,
      tags,
      revisionId: randomUUID(),
      lastModified: lambdaTimestamp(now),
      createdAt: now.toISOString(),
    };
    try {
      return this.configuration((await this.registry.create(record)).record);
    } catch (error) {
      if (error instanceof FunctionExistsError) throw new LambdaError(LambdaErrorType.ResourceConflict, error.message);
      throw error;
    }
  }

  async updateConfiguration(nameOrArn: string, body: unknown) {
    const dto = this.validate(UpdateFunctionConfigurationDto, body);
    this.checkSettings(dto);
    const { record } = await this.resolve(nameOrArn);
    return this.change(record.name, dto.RevisionId, (current) => withJsonLogs({
      ...current,
      ...(dto.Runtime !== undefined && { runtime: dto.Runtime }),
      ...(dto.Handler !== undefined && { handler: dto.Handler }),
      ...(dto.Role !== undefined && { role: dto.Role }),
      ...(dto.Description !== undefined && { description: dto.Description }),
      ...(dto.Timeout !== undefined && { timeout: dto.Timeout }),
      ...(dto.MemorySize !== undefined && { memorySize: dto.MemorySize }),
      ...(dto.Environment !== undefined && { environment: dto.Environment.Variables ?? {} }),
      ...(dto.EphemeralStorage !== undefined && { ephemeralStorageMb: dto.EphemeralStorage.Size }),
      ...settingsOf(dto),
    }, jsonLogsAfter(dto.LoggingConfig, current.jsonLogs)));
  }

  async updateCode(nameOrArn: string, body: unknown) {
    const dto = this.validate(UpdateFunctionCodeDto, body);
    const { record } = await this.resolve(nameOrArn);
    if (dto.Publish) throw unsupported('Publish', PUBLISH_WHY);
    this.checkRevision(record, dto.RevisionId);
    const zip = await this.zipFrom(dto);
    if (dto.DryRun) return this.configuration(record);
    const code = await this.storeCode(zip);
    return this.change(record.name, dto.RevisionId, (current) => ({
      ...current,
      ...code,
      ...(dto.Architectures !== undefined && { architectures: dto.Architectures }),
    }));
  }

  async delete(nameOrArn: string, qualifier?: string): Promise<void> {
    if ((qualifier ?? this.parseName(nameOrArn).qualifier) === LATEST) {
      throw new LambdaError(LambdaErrorType.InvalidParameterValue, '$LATEST version cannot be deleted without deleting the function.');
    }
    const { record } = await this.resolve(nameOrArn, qualifier);
    try {
      await this.registry.delete(record.name);
    } catch (error) {
      if (error instanceof FunctionNotFoundError) throw LambdaError.notFound(functionArn(this.identity, record.name));
      throw error;
    }
  }

  /**
   * ListFunctions. Every function has only $LATEST, so `FunctionVersion=ALL` lists the same
   * functions, each as its $LATEST version (under the qualified ARN, as AWS lists versions).
   */
  list(marker: string | undefined, maxItems: string | undefined, filters: { functionVersion?: string | undefined; masterRegion?: string | undefined } = {}) {
    // An integer as Java reads one: `1e1`, `0x10` or `5.0` is not one (Number() took them).
    const limit = maxItems === undefined ? LAMBDA_LIMITS.listMaxItems : /^[+-]?\d{1,10}$/.test(maxItems) ? Number(maxItems) : Number.NaN;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw LambdaError.validation([{ path: 'maxItems', value: maxItems, constraints: ['Member must have value between 1 and 10000'] }]);
    }
    if (filters.functionVersion !== undefined && filters.functionVersion !== 'ALL') {
      throw LambdaError.validation([{ path: 'functionVersion', value: filters.functionVersion, constraints: ['Member must satisfy enum value set: [ALL]'] }]);
    }
    if (filters.masterRegion !== undefined && !MASTER_REGION_PATTERN.test(filters.masterRegion)) {
      throw LambdaError.validation([
        { path: 'masterRegion', value: filters.masterRegion, constraints: ['Member must satisfy regular expression pattern: ALL|[a-z]{2}(-gov)?-[a-z]+-\\d{1}'] },
      ]);
    }
    // MasterRegion lists versions (of replicas), so AWS takes it only beside FunctionVersion=ALL.
    if (filters.masterRegion !== undefined && filters.functionVersion === undefined) {
      throw new LambdaError(
        LambdaErrorType.InvalidParameterValue,
        `The combination MasterArn=${filters.masterRegion} and FunctionVersion=NULL is not supported. Please see our documentation for valid combinations of ListFunctions options.`,
      );
    }
    const after = marker ? Buffer.from(marker, 'base64url').toString('utf8') : '';
    // MasterRegion asks for Lambda@Edge replicas, of which there are none here.
    const all = filters.masterRegion !== undefined ? [] : this.registry.list().filter((e) => e.record.name > after);
    // AWS returns at most 50 functions per page whatever MaxItems asks for.
    const page = all.slice(0, Math.min(limit, LAMBDA_LIMITS.listMaxItems));
    const last = page.at(-1);
    return {
      Functions: page.map((e) => toListedConfiguration(e.record, this.identity, filters.functionVersion === 'ALL' ? LATEST : undefined)),
      ...(all.length > page.length && last ? { NextMarker: Buffer.from(last.record.name).toString('base64url') } : {}),
    };
  }

  /** ListTags: a function's tags. */
  async listTags(resource: string): Promise<{ Tags: Record<string, string> }> {
    const { record } = await this.resolveTaggable(resource);
    return { Tags: record.tags ?? {} };
  }

  /** TagResource: adds or overwrites tags. Tags are no change of code or configuration: RevisionId stays. */
  async tag(resource: string, body: unknown): Promise<void> {
    const dto = this.validate(TagResourceDto, body);
    const { record } = await this.resolveTaggable(resource);
    const added = this.checkTags(dto.Tags);
    await this.retag(record.name, (tags) => this.checkTags({ ...tags, ...added }));
  }

  /** UntagResource: removes the tags with these keys (absent keys are no error, as on AWS). */
  async untag(resource: string, keys: string[]): Promise<void> {
    const { record } = await this.resolveTaggable(resource);
    await this.retag(record.name, (tags) => Object.fromEntries(Object.entries(tags).filter(([key]) => !keys.includes(key))));
  }

  /** The tagging operations name a resource by its ARN only, as on AWS: a bare name is a ValidationException. */
  private resolveTaggable(resource: string): Promise<FunctionEntry> {
    if (!TAGGABLE_RESOURCE_PATTERN.test(resource)) {
      throw LambdaError.validation([{ path: 'resource', value: resource, constraints: [`Member must satisfy regular expression pattern: ${TAGGABLE_RESOURCE_PATTERN.source.replace(/^\^|\$$/g, '')}`] }]);
    }
    // Tags belong to the function, never to one of its versions or aliases ($LATEST included).
    if (this.parseName(resource).qualifier !== undefined) {
      throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'Tags on function aliases and versions are not supported. Please specify a function ARN.');
    }
    return this.resolve(resource);
  }

  private async retag(name: string, change: (tags: Record<string, string>) => Record<string, string>): Promise<void> {
    try {
      await this.registry.update(name, (current) => ({ ...current, tags: change(current.tags ?? {}) }));
    } catch (error) {
      if (error instanceof FunctionNotFoundError) throw LambdaError.notFound(functionArn(this.identity, name));
      throw error;
    }
  }

  /** AWS's tag rules: at most 50; keys of 1–128 characters, not starting with `aws:`; values of at most 256. */
  private checkTags(tags: Record<string, unknown>): Record<string, string> {
    const entries = Object.entries(tags);
    if (entries.length > 50) throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'Number of tags exceeds resource tag limit.');
    for (const [key, value] of entries) {
      if (typeof value !== 'string') throw new LambdaError(LambdaErrorType.InvalidParameterValue, `The value of tag ${key} must be a string.`);
      if (key.length < 1 || key.length > 128) throw new LambdaError(LambdaErrorType.InvalidParameterValue, `Tag key ${key} must be 1 to 128 characters long.`);
      if (value.length > 256) throw new LambdaError(LambdaErrorType.InvalidParameterValue, `The value of tag ${key} must be at most 256 characters long.`);
      if (key.toLowerCase().startsWith('aws:')) throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'Tag keys starting with "aws:" are reserved.');
    }
    return Object.fromEntries(entries) as Record<string, string>;
  }

  /**
   * Applies a change to the stored record. `expectedRevisionId` (the request's RevisionId) is
   * checked against the record the change is applied to, inside the compare-and-set: of
   * concurrent requests naming the same revision, one succeeds and the others are refused.
   */
  private async change(name: string, expectedRevisionId: string | undefined, apply: (r: FunctionRecord) => FunctionRecord) {
    try {
      const { record } = await this.registry.update(name, (current) => {
        this.checkRevision(current, expectedRevisionId);
        return { ...apply(current), revisionId: randomUUID(), lastModified: lambdaTimestamp() };
      });
      return this.configuration(record);
    } catch (error) {
      if (error instanceof FunctionNotFoundError) throw LambdaError.notFound(functionArn(this.identity, name));
      throw error;
    }
  }

  /**
   * PutRuntimeManagementConfig. A function's runtime follows the worker's Node.js of its major,
   * which is `Auto`: that is taken (and changes nothing); a pinned or update-bound runtime is not.
   */
  async putRuntimeManagement(name: string, qualifier: string | undefined, body: unknown) {
    // The model's checks come first, as on AWS: a bad body is a ValidationException, even for a function that is not there.
    const dto = this.validate(PutRuntimeManagementConfigDto, body);
    const { record } = await this.resolve(name, qualifier);
    if (dto.UpdateRuntimeOn !== 'Auto') {
      throw unsupported(`UpdateRuntimeOn ${dto.UpdateRuntimeOn}`, "a function runs on the worker's Node.js of its runtime's major version, which is Auto.");
    }
    return { UpdateRuntimeOn: dto.UpdateRuntimeOn, FunctionArn: functionArn(this.identity, record.name) };
  }

  /** A request body as `cls`, or the ValidationException AWS answers for it. */
  validate<T extends object>(cls: new () => T, body: unknown): T {
    const result = validateDto(cls, body);
    if (!result.ok) throw LambdaError.validation(result.violations);
    return result.value;
  }

  private checkRevision(record: FunctionRecord, revisionId: string | undefined): void {
    if (revisionId !== undefined && revisionId !== record.revisionId) {
      throw new LambdaError(
        LambdaErrorType.PreconditionFailed,
        'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id',
      );
    }
  }

  /** Semantic checks AWS answers with InvalidParameterValueException (syntax is the DTO's job). */
  private checkSettings(dto: FunctionSettingsDto): void {
    if (dto.Runtime !== undefined && isBlockedRuntime(dto.Runtime)) {
      throw new LambdaError(
        LambdaErrorType.InvalidParameterValue,
        `The runtime parameter of ${dto.Runtime} is no longer supported for creating or updating AWS Lambda functions. We recommend you use the new runtime (${SUPPORTED_RUNTIMES.at(-1)}) while creating or updating functions.`,
      );
    }
    if (dto.Runtime !== undefined && !isSupportedRuntime(dto.Runtime)) {
      throw new LambdaError(
        LambdaErrorType.InvalidParameterValue,
        `The runtime parameter of ${dto.Runtime} is not supported by this Tributary build. Supported runtimes: ${SUPPORTED_RUNTIMES.join(', ')}.`,
      );
    }
    if (dto.DeadLetterConfig?.TargetArn) {
      throw new LambdaError(
        LambdaErrorType.InvalidParameterValue,
        'DeadLetterConfig is not supported by this Tributary build: no SQS queue or SNS topic to deliver to. Async invocations that fail every attempt stay in the function queue\'s failed set.',
      );
    }
    // Accepted and then dropped, these would tell a deployment tool that a setting holds when it
    // does not; refused instead, as AWS refuses a setting it cannot apply. An empty value (how a
    // setting is removed) is fine.
    const vpc = dto.VpcConfig;
    if (dto.Layers?.length) throw unsupported('Layers', 'functions run from their own package only; put the layer\'s files in the zip.');
    if (vpc?.SubnetIds?.length || vpc?.SecurityGroupIds?.length) throw unsupported('VpcConfig', 'functions use the network of the worker that runs them.');
    if (dto.KMSKeyArn) throw unsupported('KMSKeyArn', 'environment variables are stored as given.');
    if (dto.FileSystemConfigs?.length) throw unsupported('FileSystemConfigs', 'there is no file system to mount.');
    if (dto.ImageConfig && Object.keys(dto.ImageConfig).length > 0) throw unsupported('ImageConfig', 'it applies to container images, and only Zip packages run here.');
    if (dto.SnapStart?.ApplyOn === 'PublishedVersions') throw unsupported('SnapStart', 'functions have no published versions.');
    const variables = dto.Environment?.Variables;
    if (variables) {
      // AWS's words for the map's keys; a value that is no string, or holds a NUL (which cannot be
      // passed to a process: spawn would throw), in the same form.
      const entries = Object.entries(variables);
      const constraints = [
        ...(entries.some(([k]) => !/^[a-zA-Z]([a-zA-Z0-9_])+$/.test(k)) ? ['Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]'] : []),
        ...(entries.some(([, v]) => typeof v !== 'string' || v.includes('\u0000')) ? ['Map value must satisfy constraint: [Member must be a string without NUL characters]'] : []),
      ];
      if (constraints.length > 0) throw LambdaError.validation([{ path: 'environment.variables', value: undefined, constraints, sensitive: true }]);
      const reserved = Object.keys(variables).filter((k) => (RESERVED_ENVIRONMENT_KEYS as readonly string[]).includes(k));
      if (reserved.length > 0) {
        throw new LambdaError(
          LambdaErrorType.InvalidParameterValue,
          `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(', ')}`,
        );
      }
      const measured = JSON.stringify(variables);
      if (Buffer.byteLength(measured) > LAMBDA_LIMITS.environmentBytes) {
        throw new LambdaError(
          LambdaErrorType.InvalidParameterValue,
          `Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: ${measured}`,
        );
      }
    }
  }

  private async zipFrom(code: FunctionCodeDto | undefined): Promise<Buffer> {
    let zip: Buffer;
    if (code?.ZipFile) {
      if (code.S3Bucket !== undefined || code.S3Key !== undefined || code.S3ObjectVersion !== undefined || code.ImageUri !== undefined) {
        throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'Please do not provide other FunctionCode parameters when providing a ZipFile.');
      }
      zip = Buffer.from(code.ZipFile, 'base64');
      if (zip.byteLength > LAMBDA_LIMITS.zipBytes) {
        throw new LambdaError(LambdaErrorType.RequestEntityTooLarge, `Zipped size must be smaller than ${LAMBDA_LIMITS.zipBytes} bytes`);
      }
    } else if (code?.S3Bucket !== undefined || code?.S3Key !== undefined) {
      zip = await this.zipFromS3(code);
    } else if (code?.ImageUri) {
      throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'Code from ImageUri is not supported by this Tributary build; upload a .zip package.');
    } else {
      throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'Please provide a source for function code.');
    }
    const contents = await inspectZip(zip);
    if (!contents) {
      throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'Could not unzip uploaded file. Please check your file, then try to upload again.');
    }
    // AWS's words for an archive that holds nothing (deployment tools' users search for them).
    if (contents.entries === 0) throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'Uploaded file must be a non-empty zip');
    if (contents.unzippedBytes > LAMBDA_LIMITS.unzippedBytes) {
      throw new LambdaError(LambdaErrorType.InvalidParameterValue, `Unzipped size must be smaller than ${LAMBDA_LIMITS.unzippedBytes} bytes`);
    }
    return zip;
  }

  /** The package from the object store, as AWS takes it from S3 (and words its errors). */
  private async zipFromS3({ S3Bucket: bucket, S3Key: key, S3ObjectVersion: version }: FunctionCodeDto): Promise<Buffer> {
    if (!bucket || !key) throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'Both S3Bucket and S3Key must be given for code from S3.');
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(version ? { VersionId: version } : {}) }));
      const tooLarge = () => new LambdaError(LambdaErrorType.InvalidParameterValue, `Unzipped size must be smaller than ${LAMBDA_LIMITS.s3ZipBytes} bytes`);
      const body = object.Body?.transformToWebStream();
      if (!body) return Buffer.alloc(0);
      if ((object.ContentLength ?? 0) > LAMBDA_LIMITS.s3ZipBytes) {
        await body.cancel().catch(() => undefined);
        throw tooLarge();
      }
      // Counted as it arrives: a store may not say the length up front.
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > LAMBDA_LIMITS.s3ZipBytes) throw tooLarge(); // leaving the loop cancels the stream
        chunks.push(chunk);
      }
      return Buffer.concat(chunks, size);
    } catch (error) {
      if (error instanceof LambdaError) throw error;
      if (error instanceof S3ServiceException) {
        throw new LambdaError(
          LambdaErrorType.InvalidParameterValue,
          `Error occurred while GetObject. S3 Error Code: ${error.name}. S3 Error Message: ${error.message}`,
        );
      }
      throw new LambdaError(LambdaErrorType.Service, `The object store could not be reached for s3://${bucket}/${key}: ${(error as Error).message}`);
    }
  }
}
