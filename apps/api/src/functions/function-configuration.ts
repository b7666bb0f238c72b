import { functionArn, LATEST, logGroupOf, type FunctionRecord, type LambdaIdentity } from '@tributary/contracts';

/**
 * A registry record in the shape the Lambda API returns (FunctionConfiguration). Asked for with a
 * qualifier (`Qualifier=$LATEST`, or `name:$LATEST`), AWS answers with the qualified ARN.
 */
export const toFunctionConfiguration = (record: FunctionRecord, identity: LambdaIdentity, qualifier?: string) => ({
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
  State: 'Active',
  LastUpdateStatus: 'Successful',
  PackageType: 'Zip',
  Architectures: record.architectures,
  EphemeralStorage: { Size: record.ephemeralStorageMb },
  SnapStart: { ApplyOn: 'None', OptimizationStatus: 'Off' },
  LoggingConfig: { LogFormat: 'Text', LogGroup: logGroupOf(record) },
});

/** `2026-11-25T05:00:00.000+0000`: the Lambda API's LastModified format. */
export const lambdaTimestamp = (date = new Date()): string => date.toISOString().replace('Z', '+0000');
