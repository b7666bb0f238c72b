import { Inject, Injectable } from '@nestjs/common';
import { functionArn, type FunctionRecord, type LambdaIdentity } from '@tributary/contracts';
import { TriggerRegistry } from '@tributary/registry';
import { LAMBDA_IDENTITY } from './functions.service.js';
import { LambdaError, LambdaErrorType } from './lambda-error.js';

/**
 * The function's resource-based policy, derived from its bucket triggers: on AWS each bucket
 * that invokes a function holds a permission whose condition names the bucket's ARN.
 */
@Injectable()
export class PolicyService {
  constructor(
    @Inject(TriggerRegistry) private readonly triggers: TriggerRegistry,
    @Inject(LAMBDA_IDENTITY) private readonly identity: LambdaIdentity,
  ) {}

  policy(record: FunctionRecord): { Policy: string; RevisionId: string } {
    const statements = this.triggers.forFunction(record.name).map(({ bucket, id }) => ({
      Sid: `s3-${bucket}-${id}`.replace(/[^a-zA-Z0-9-_]/g, '-').slice(0, 100),
      Effect: 'Allow',
      Principal: { Service: 's3.amazonaws.com' },
      Action: 'lambda:InvokeFunction',
      Resource: functionArn(this.identity, record.name),
      Condition: { ArnLike: { 'AWS:SourceArn': `arn:aws:s3:::${bucket}` } },
    }));
    if (statements.length === 0) throw new LambdaError(LambdaErrorType.ResourceNotFound, 'The resource you requested does not exist.');
    return { Policy: JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: statements }), RevisionId: record.revisionId };
  }
}
