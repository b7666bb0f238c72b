import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { AddPermissionDto, functionArn, type FunctionRecord, type LambdaIdentity, type PolicyStatement } from '@tributary/contracts';
import { FunctionNotFoundError, FunctionRegistry, TriggerRegistry } from '@tributary/registry';
import { FunctionsService, LAMBDA_IDENTITY } from './functions.service.js';
import { LambdaError, LambdaErrorType } from './lambda-error.js';

/** AWS's limit on the size of a function's policy document. */
const POLICY_MAX_BYTES = 20_480;
const REMOVED_STATEMENT_ID_PATTERN = /^[a-zA-Z0-9-_.]+$/;
const INVOKING_ACTIONS = new Set(['lambda:InvokeFunction', 'lambda:*', '*']);

/** AddPermission's Principal as AWS writes it into the statement. */
const principalOf = (principal: string): PolicyStatement['Principal'] => {
  if (principal === '*') return '*';
  if (/^\d{12}$/.test(principal)) return { AWS: `arn:aws:iam::${principal}:root` };
  if (principal.startsWith('arn:')) return { AWS: principal };
  // AWS's service principals: `s3.amazonaws.com`, and Alexa's `alexa-appkit.amazon.com`.
  if (/^[a-z0-9.-]+\.(amazonaws\.com(\.cn)?|amazon\.com)$/.test(principal)) return { Service: principal };
  throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'The provided principal was invalid. Please check the principal and try again.');
};

/** AddPermission's conditions, under the keys AWS gives them. */
const conditionOf = (dto: AddPermissionDto): PolicyStatement['Condition'] => {
  const condition: Record<string, Record<string, string>> = {};
  const add = (operator: string, key: string, value: string | undefined) => {
    if (value !== undefined && value !== '') condition[operator] = { ...condition[operator], [key]: value };
  };
  add('StringEquals', 'AWS:SourceAccount', dto.SourceAccount);
  add('StringEquals', 'aws:PrincipalOrgID', dto.PrincipalOrgID);
  add('StringEquals', 'lambda:EventSourceToken', dto.EventSourceToken);
  add('StringEquals', 'lambda:FunctionUrlAuthType', dto.FunctionUrlAuthType);
  add('Bool', 'lambda:InvokedViaFunctionUrl', dto.InvokedViaFunctionUrl ? 'true' : undefined);
  add('ArnLike', 'AWS:SourceArn', dto.SourceArn);
  return Object.keys(condition).length > 0 ? condition : undefined;
};

const isStringMap = (value: unknown): value is Record<string, string> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');

/** A stored statement with every member GetPolicy writes: the KV bucket is open to anyone who reaches NATS. */
const isStatement = (value: unknown): value is PolicyStatement => {
  const s = value as Partial<PolicyStatement> | null;
  return (
    typeof s === 'object' && s !== null && typeof s.Sid === 'string' && s.Effect === 'Allow' && typeof s.Action === 'string' && typeof s.Resource === 'string' &&
    (s.Principal === '*' || isStringMap(s.Principal)) &&
    (s.Condition === undefined || (typeof s.Condition === 'object' && s.Condition !== null && Object.values(s.Condition).every(isStringMap)))
  );
};

/** The statements a record holds, those that are statements: a malformed one is no grant, and no 500. */
const permissionsOf = (record: FunctionRecord): PolicyStatement[] => (Array.isArray(record.permissions) ? record.permissions.filter(isStatement) : []);

/** AWS keeps no policy for `$LATEST` of its own: the function's is the unqualified one. */
const LATEST_POLICY = 'We currently do not support adding policies for $LATEST.';

const document = (statements: PolicyStatement[]): string => JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: statements });

/**
 * A function's resource-based policy: the statements added with AddPermission, and one per bucket
 * whose notification configuration invokes it (as S3's console adds on AWS), unless an added
 * statement already lets S3 invoke it for that bucket. Nothing is authorised by it: callers are
 * not told apart per function here (ARCHITECTURE.md).
 */
@Injectable()
export class PolicyService {
  constructor(
    @Inject(TriggerRegistry) private readonly triggers: TriggerRegistry,
    @Inject(FunctionRegistry) private readonly registry: FunctionRegistry,
    @Inject(FunctionsService) private readonly functions: FunctionsService,
    @Inject(LAMBDA_IDENTITY) private readonly identity: LambdaIdentity,
  ) {}

  /** GetPolicy; `qualifier` is the one the caller named ($LATEST, the only one here, has no policy of its own). */
  policy(record: FunctionRecord, qualifier?: string): { Policy: string; RevisionId: string } {
    const statements = qualifier === undefined ? this.statements(record) : [];
    if (statements.length === 0) throw new LambdaError(LambdaErrorType.ResourceNotFound, 'The resource you requested does not exist.');
    return { Policy: document(statements), RevisionId: record.policyRevisionId ?? record.revisionId };
  }

  /** AddPermission: the statement as stored, in AWS's answer (201). */
  async addPermission(name: string, qualifier: string | undefined, body: unknown): Promise<{ Statement: string }> {
    const dto = this.functions.validate(AddPermissionDto, body);
    const { record, qualifier: named } = await this.functions.resolve(name, qualifier);
    if (named !== undefined) throw new LambdaError(LambdaErrorType.InvalidParameterValue, LATEST_POLICY);
    const condition = conditionOf(dto);
    const statement: PolicyStatement = {
      Sid: dto.StatementId,
      Effect: 'Allow',
      Principal: principalOf(dto.Principal),
      Action: dto.Action,
      Resource: functionArn(this.identity, record.name),
      ...(condition ? { Condition: condition } : {}),
    };
    await this.changePolicy(record.name, dto.RevisionId, (current) => {
      if (this.statements(current).some((s) => s.Sid === statement.Sid)) {
        throw new LambdaError(
          LambdaErrorType.ResourceConflict,
          `The statement id (${statement.Sid}) provided already exists. Please provide a new statement id, or remove the existing statement.`,
        );
      }
      const permissions = [...permissionsOf(current), statement];
      const size = Buffer.byteLength(document([...permissions, ...this.derived(current, permissions)]));
      if (size > POLICY_MAX_BYTES) {
        throw new LambdaError(LambdaErrorType.PolicyLengthExceeded, `The final policy size (${size}) is bigger than the limit (${POLICY_MAX_BYTES}).`);
      }
      return permissions;
    });
    return { Statement: JSON.stringify(statement) };
  }

  /** RemovePermission (204). A bucket's own statement goes with its notification configuration. */
  async removePermission(name: string, statementId: string, qualifier: string | undefined, revisionId: string | undefined): Promise<void> {
    if (statementId.length > 100 || !REMOVED_STATEMENT_ID_PATTERN.test(statementId)) {
      throw LambdaError.validation([
        { path: 'statementId', value: statementId, constraints: [statementId.length > 100 ? 'Member must have length less than or equal to 100' : 'Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)'] },
      ]);
    }
    const { record, qualifier: named } = await this.functions.resolve(name, qualifier);
    // $LATEST has no policy of its own to remove a statement from.
    if (named !== undefined) throw new LambdaError(LambdaErrorType.ResourceNotFound, 'The resource you requested does not exist.');
    await this.changePolicy(record.name, revisionId, (current) => {
      const permissions = permissionsOf(current);
      if (permissions.some((s) => s.Sid === statementId)) return permissions.filter((s) => s.Sid !== statementId);
      const derived = this.derived(current, permissions).find((s) => s.Sid === statementId);
      if (derived) {
        throw new LambdaError(
          LambdaErrorType.InvalidParameterValue,
          `Statement ${statementId} stands for a bucket notification that invokes this function; remove it from the bucket's notification configuration (PutBucketNotificationConfiguration).`,
        );
      }
      throw new LambdaError(LambdaErrorType.ResourceNotFound, `Statement ${statementId} is not found in resource policy.`);
    });
  }

  private statements(record: FunctionRecord): PolicyStatement[] {
    const permissions = permissionsOf(record);
    return [...permissions, ...this.derived(record, permissions)];
  }

  /** One statement per bucket that invokes the function and that no added statement lets S3 invoke it for. */
  private derived(record: FunctionRecord, permissions: PolicyStatement[]): PolicyStatement[] {
    const grantsS3 = (bucket: string) =>
      permissions.some(
        (s) =>
          typeof s.Principal === 'object' && 'Service' in s.Principal && s.Principal.Service === 's3.amazonaws.com' && INVOKING_ACTIONS.has(s.Action) &&
          [undefined, `arn:aws:s3:::${bucket}`].includes(s.Condition?.['ArnLike']?.['AWS:SourceArn']),
      );
    return this.triggers
      .forFunction(record.name)
      .filter(({ bucket }) => !grantsS3(bucket))
      .map(({ bucket, id }) => ({
        Sid: `s3-${bucket}-${id}`.replace(/[^a-zA-Z0-9-_]/g, '-').slice(0, 100),
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Action: 'lambda:InvokeFunction',
        Resource: functionArn(this.identity, record.name),
        Condition: { ArnLike: { 'AWS:SourceArn': `arn:aws:s3:::${bucket}` } },
      }));
  }

  /**
   * Replaces the added statements inside the registry's compare-and-set, checking `revisionId`
   * against the policy's own revision. The function's RevisionId stays: its code and
   * configuration did not change (as with tags).
   */
  private async changePolicy(name: string, revisionId: string | undefined, change: (current: FunctionRecord) => PolicyStatement[]): Promise<void> {
    try {
      await this.registry.update(name, (current) => {
        if (revisionId !== undefined && revisionId !== (current.policyRevisionId ?? current.revisionId)) {
          throw new LambdaError(
            LambdaErrorType.PreconditionFailed,
            'The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id',
          );
        }
        const permissions = change(current);
        const next: FunctionRecord = { ...current, policyRevisionId: randomUUID() };
        if (permissions.length > 0) next.permissions = permissions;
        else delete next.permissions;
        return next;
      });
    } catch (error) {
      if (error instanceof FunctionNotFoundError) throw LambdaError.notFound(functionArn(this.identity, name));
      throw error;
    }
  }
}
