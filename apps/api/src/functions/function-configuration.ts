import { createHash } from 'node:crypto';
import { functionArn, LATEST, logGroupOf, type FunctionRecord, type LambdaIdentity } from '@tributary/contracts';
import { runtimeNodeVersion } from '@tributary/runtime';

/**
 * A registry record as ListFunctions lists it: "a subset of the FunctionConfiguration fields", as
 * AWS documents, which leaves out the states. Asked for with a qualifier (`Qualifier=$LATEST`, or
 * `name:$LATEST`), AWS answers with the qualified ARN.
 */
export const toListedConfiguration = (record: FunctionRecord, identity: LambdaIdentity, qualifier?: string) => ({
  FunctionName: record.name,
  FunctionArn: functionArn(identity, record.name, qualifier),
  Runtime: record.runtime,
  Role: record.role,
  Handler: record.handler,
  CodeSize: record.codeSize,
  Description: record.description,
  Timeout: record.timeout,
  MemorySize: record.memorySize,
  LastModified: record.lastModified,
  CodeSha256: record.codeSha256,
  Version: LATEST,
  ...(Object.keys(record.environment).length > 0 ? { Environment: { Variables: record.environment } } : {}),
  TracingConfig: { Mode: record.tracingMode ?? 'PassThrough' },
  RevisionId: record.revisionId,
  PackageType: 'Zip',
  Architectures: record.architectures,
  EphemeralStorage: { Size: record.ephemeralStorageMb },
  SnapStart: { ApplyOn: 'None', OptimizationStatus: 'Off' },
  LoggingConfig: record.jsonLogs
    ? { LogFormat: 'JSON', ApplicationLogLevel: record.jsonLogs.applicationLogLevel, SystemLogLevel: record.jsonLogs.systemLogLevel, LogGroup: logGroupOf(record) }
    : { LogFormat: 'Text', LogGroup: logGroupOf(record) },
});

/** A registry record in the shape the Lambda API returns it (FunctionConfiguration): the code is stored before CreateFunction answers, so it is at once Active. */
export const toFunctionConfiguration = (record: FunctionRecord, identity: LambdaIdentity, qualifier?: string) => {
  const runtimeVersionArn = runtimeVersionArnOf(record.runtime, identity);
  return {
    ...toListedConfiguration(record, identity, qualifier),
    State: 'Active',
    LastUpdateStatus: 'Successful',
    ...(runtimeVersionArn ? { RuntimeVersionConfig: { RuntimeVersionArn: runtimeVersionArn } } : {}),
  };
};

/**
 * RuntimeVersionConfig's ARN, as AWS names a managed runtime's release (`arn:aws:lambda:<region>::runtime:`
 * and 64 hex digits): here the SHA-256 of the runtime and the Node.js release it runs on, so it
 * changes when that release does, as AWS's does with each runtime update.
 */
const runtimeVersionArnOf = (runtime: string, identity: LambdaIdentity): string | undefined => {
  const version = runtimeNodeVersion(runtime);
  return version === undefined ? undefined : `arn:aws:lambda:${identity.region}::runtime:${createHash('sha256').update(`${runtime}/${version}`).digest('hex')}`;
};

/** `2026-11-25T05:00:00.000+0000`: the Lambda API's LastModified format. */
export const lambdaTimestamp = (date = new Date()): string => date.toISOString().replace('Z', '+0000');
