import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  InvalidParameterValueException,
  InvokeCommand,
  ListFunctionsCommand,
  ResourceNotFoundException,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { uniqueName } from '@tributary/testing';
import { decode, functionInput, startE2eStack, type E2eStack } from './harness.js';

// Answers that real AWS Lambda gives and an SDK user notices, found by driving the API with the
// SDK and the AWS CLI side by side with AWS's documented behaviour.
describe('Lambda API details as AWS answers them', () => {
  let e2e: E2eStack;
  const name = uniqueName('parity');
  const arn = (region: string, account = '000000000000') => `arn:aws:lambda:${region}:${account}:function:${name}`;

  before(async () => {
    // The identity the ARNs below are written for, whatever the shell running the tests exports.
    e2e = await startE2eStack({ AWS_REGION: 'us-east-1', TRIBUTARY_ACCOUNT_ID: '000000000000' });
    await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(name, 'exports.handler = async (event) => ({ got: event });')),
    );
  });

  after(async () => e2e?.stop());

  const rejects = async (call: Promise<unknown>, name: string, message: RegExp) => {
    const error = await call.then(() => assert.fail(`expected ${name}`), (e: unknown) => e as Error & { $metadata?: { httpStatusCode?: number } });
    assert.equal(error.name, name);
    assert.match(error.message, message);
    return error;
  };

  it('finds a function by its full ARN only in this region and account', async () => {
    const found = await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: arn('us-east-1') }));
    assert.equal(found.FunctionName, name);
    const elsewhere = await rejects(
      e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: arn('eu-west-1') })),
      'ResourceNotFoundException',
      /^Functions from 'eu-west-1' are not reachable in this region \('us-east-1'\)$/,
    );
    assert.equal(elsewhere.$metadata?.httpStatusCode, 404);
    await assert.rejects(e2e.lambda.send(new InvokeCommand({ FunctionName: arn('us-east-1', '111111111111') })), ResourceNotFoundException);
  });

  it('checks a Qualifier against the one in the name, and its pattern', async () => {
    await rejects(
      e2e.lambda.send(new GetFunctionCommand({ FunctionName: `${name}:prod`, Qualifier: '$LATEST' })),
      'InvalidParameterValueException',
      /^The derived qualifier from the function name does not match the specified qualifier\.$/,
    );
    await rejects(e2e.lambda.send(new GetFunctionCommand({ FunctionName: name, Qualifier: 'a.b' })), 'ValidationException', /at 'qualifier' failed to satisfy constraint/);
    await rejects(e2e.lambda.send(new GetFunctionCommand({ FunctionName: name, Qualifier: '' })), 'ValidationException', /Member must have length greater than or equal to 1/);
    assert.equal((await e2e.lambda.send(new GetFunctionCommand({ FunctionName: `${name}:$LATEST`, Qualifier: '$LATEST' }))).Configuration?.FunctionName, name);
  });

  it('refuses to delete $LATEST alone, and keeps the function', async () => {
    for (const input of [{ FunctionName: name, Qualifier: '$LATEST' }, { FunctionName: `${name}:$LATEST` }]) {
      await rejects(e2e.lambda.send(new DeleteFunctionCommand(input)), 'InvalidParameterValueException', /^\$LATEST version cannot be deleted without deleting the function\.$/);
    }
    assert.equal((await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }))).FunctionName, name);
    await assert.rejects(e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: name, Qualifier: '$LATEST' })), InvalidParameterValueException);
  });

  it('names every answer with a request id', async () => {
    for (const output of [
      await e2e.lambda.send(new GetFunctionCommand({ FunctionName: name })),
      await e2e.lambda.send(new ListFunctionsCommand({})),
      await e2e.lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'DryRun' })),
    ]) {
      assert.match(output.$metadata.requestId ?? '', /^[0-9a-f-]{36}$/);
    }
  });

  it('hands a null payload to the handler as null, and an empty one as {}', async () => {
    const withNull = await e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('null') }));
    assert.deepEqual(JSON.parse(decode(withNull.Payload)), { got: null });
    const empty = await e2e.lambda.send(new InvokeCommand({ FunctionName: name }));
    assert.deepEqual(JSON.parse(decode(empty.Payload)), { got: {} });
  });

  it('keeps TracingConfig and a LoggingConfig log group, and refuses the settings it cannot honour', async () => {
    const other = uniqueName('settings');
    const created = await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(other, 'exports.handler = async (e, context) => ({ group: context.logGroupName, env: process.env.AWS_LAMBDA_LOG_GROUP_NAME });', { TracingConfig: { Mode: 'Active' }, LoggingConfig: { LogFormat: 'Text', LogGroup: '/custom/group' } })),
    );
    assert.equal(created.TracingConfig?.Mode, 'Active');
    assert.equal(created.LoggingConfig?.LogGroup, '/custom/group');
    const ran = JSON.parse(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: other }))).Payload));
    assert.deepEqual(ran, { group: '/custom/group', env: '/custom/group' });
    const updated = await e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: other, TracingConfig: { Mode: 'PassThrough' } }));
    assert.equal(updated.TracingConfig?.Mode, 'PassThrough');
    assert.equal(updated.LoggingConfig?.LogGroup, '/custom/group');

    const refused = /only the Text log format is supported/;
    await rejects(e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: other, LoggingConfig: { LogFormat: 'JSON' } })), 'InvalidParameterValueException', refused);
    await rejects(e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: other, LoggingConfig: { ApplicationLogLevel: 'DEBUG' } })), 'InvalidParameterValueException', refused);
    const withDlq = uniqueName('dlq');
    await rejects(
      e2e.lambda.send(
        new CreateFunctionCommand(functionInput(withDlq, 'exports.handler = async () => 1;', { DeadLetterConfig: { TargetArn: 'arn:aws:sqs:us-east-1:000000000000:dlq' } })),
      ),
      'InvalidParameterValueException',
      /DeadLetterConfig is not supported/,
    );
    await assert.rejects(e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: withDlq })), ResourceNotFoundException);
  });

  it('describes a zip package as stored in S3', async () => {
    assert.equal((await e2e.lambda.send(new GetFunctionCommand({ FunctionName: name }))).Code?.RepositoryType, 'S3');
  });
});
