import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import {
  AddPermissionCommand,
  CreateAliasCommand,
  CreateEventSourceMappingCommand,
  CreateFunctionCommand,
  CreateFunctionUrlConfigCommand,
  DeleteFunctionCommand,
  DeleteFunctionCodeSigningConfigCommand,
  DeleteFunctionConcurrencyCommand,
  DeleteFunctionEventInvokeConfigCommand,
  DeleteFunctionUrlConfigCommand,
  DeleteProvisionedConcurrencyConfigCommand,
  PutFunctionCodeSigningConfigCommand,
  PutRuntimeManagementConfigCommand,
  GetAliasCommand,
  GetProvisionedConcurrencyConfigCommand,
  ListCodeSigningConfigsCommand,
  ListFunctionEventInvokeConfigsCommand,
  ListFunctionUrlConfigsCommand,
  ListLayerVersionsCommand,
  GetLayerVersionByArnCommand,
  GetLayerVersionCommand,
  GetEventSourceMappingCommand,
  UpdateEventSourceMappingCommand,
  DeleteEventSourceMappingCommand,
  ListLayersCommand,
  ListProvisionedConcurrencyConfigsCommand,
  PublishVersionCommand,
  PutFunctionConcurrencyCommand,
  PutFunctionEventInvokeConfigCommand,
  RemovePermissionCommand,
  GetAccountSettingsCommand,
  GetFunctionCodeSigningConfigCommand,
  GetPolicyCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
  GetFunctionEventInvokeConfigCommand,
  GetFunctionUrlConfigCommand,
  GetRuntimeManagementConfigCommand,
  InvalidParameterValueException,
  InvokeAsyncCommand,
  InvokeCommand,
  ListAliasesCommand,
  ListTagsCommand,
  TagResourceCommand,
  ListEventSourceMappingsCommand,
  ListFunctionsCommand,
  ListVersionsByFunctionCommand,
  ResourceNotFoundException,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionActive,
  waitUntilFunctionActiveV2,
  waitUntilFunctionExists,
  waitUntilFunctionUpdated,
  waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import { readableBy } from '@tributary/runtime';
import { CallbackListener, TEST_SANDBOX_USERS, buildZip, uniqueName } from '@tributary/testing';
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

  it('refuses a name too long or a path it cannot decode with ValidationException, not the router\'s own answer', async () => {
    for (const length of [600, 4000]) {
      const error = await rejects(e2e.lambda.send(new GetFunctionCommand({ FunctionName: 'a'.repeat(length) })), 'ValidationException', /at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 256$/);
      assert.equal(error.$metadata?.httpStatusCode, 400);
    }
    const raw = await fetch(`${e2e.stack.url('api')}/2015-03-31/functions/%FF/configuration`);
    assert.equal(raw.status, 400);
    assert.equal(raw.headers.get('x-amzn-errortype'), 'ValidationException');
    assert.match(((await raw.json()) as { message: string }).message, /not a valid url component/);
  });

  it('holds a function name to 64 characters with InvalidParameterValueException, as AWS does, in a bare name and in an ARN', async () => {
    const long = 'a'.repeat(65);
    const tooLong = /^1 validation error detected: Value '[^']+' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64$/;
    const create = functionInput(long, buildZip({ 'index.js': 'exports.handler = async () => 1;' }));
    assert.equal((await rejects(e2e.lambda.send(new CreateFunctionCommand(create)), 'InvalidParameterValueException', tooLong)).$metadata?.httpStatusCode, 400);
    await rejects(e2e.lambda.send(new GetFunctionCommand({ FunctionName: `arn:aws:lambda:us-east-1:000000000000:function:${long}` })), 'InvalidParameterValueException', tooLong);
    await rejects(e2e.lambda.send(new InvokeCommand({ FunctionName: `${long}:$LATEST` })), 'InvalidParameterValueException', tooLong);
    // 64 is a name that can exist: it is looked up, not refused. An ARN without its parts is not a length problem.
    await rejects(e2e.lambda.send(new GetFunctionCommand({ FunctionName: 'a'.repeat(64) })), 'ResourceNotFoundException', /Function not found/);
    await rejects(e2e.lambda.send(new GetFunctionCommand({ FunctionName: '000000000000:abc' })), 'ValidationException', /failed to satisfy constraint: Member must satisfy regular expression pattern/);
  });

  it('answers with the qualified ARN when $LATEST is asked for, and the unqualified one otherwise', async () => {
    const unqualified = (await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }))).FunctionArn;
    assert.match(unqualified ?? '', new RegExp(`:function:${name}$`));
    for (const input of [{ FunctionName: name, Qualifier: '$LATEST' }, { FunctionName: `${name}:$LATEST` }]) {
      assert.equal((await e2e.lambda.send(new GetFunctionConfigurationCommand(input))).FunctionArn, `${unqualified}:$LATEST`);
      assert.equal((await e2e.lambda.send(new GetFunctionCommand(input))).Configuration?.FunctionArn, `${unqualified}:$LATEST`);
    }
    assert.equal((await e2e.lambda.send(new GetFunctionCommand({ FunctionName: name }))).Configuration?.FunctionArn, unqualified);
  });

  it('refuses to delete $LATEST alone, and keeps the function', async () => {
    for (const input of [{ FunctionName: name, Qualifier: '$LATEST' }, { FunctionName: `${name}:$LATEST` }]) {
      await rejects(e2e.lambda.send(new DeleteFunctionCommand(input)), 'InvalidParameterValueException', /^\$LATEST version cannot be deleted without deleting the function\.$/);
    }
    assert.equal((await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }))).FunctionName, name);
    await assert.rejects(e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: name, Qualifier: '$LATEST' })), InvalidParameterValueException);
  });

  it('deletes a function once: of concurrent DeleteFunction calls one succeeds and the rest find nothing', async () => {
    const doomed = uniqueName('doomed');
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(doomed, 'exports.handler = async () => 1;')));
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: doomed }))));
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof ResourceNotFoundException, String(o.reason));
    await assert.rejects(e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: doomed })), ResourceNotFoundException);
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

  it('answers the bytes a streaming handler wrote as they were, inline or past a NATS message', async () => {
    const streaming = uniqueName('bytes');
    await e2e.lambda.send(
      new CreateFunctionCommand(
        functionInput(
          streaming,
          `exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
            const bytes = Buffer.alloc(event.size);
            for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 0x80) % 256;
            responseStream.setContentType('application/octet-stream');
            responseStream.end(bytes);
          });`,
        ),
      ),
    );
    for (const size of [300, 1_500_000]) {
      const expected = Buffer.alloc(size);
      for (let i = 0; i < size; i++) expected[i] = (i * 7 + 0x80) % 256;
      const answer = await e2e.lambda.send(new InvokeCommand({ FunctionName: streaming, Payload: Buffer.from(JSON.stringify({ size })) }));
      assert.equal(answer.FunctionError, undefined);
      assert.ok(Buffer.from(answer.Payload ?? []).equals(expected), `${size} bytes came back altered`);
    }
  });

  it('tells the handler the ARN it was invoked by, with the qualifier the caller named', async () => {
    const arnOf = uniqueName('arn');
    const unqualified = `arn:aws:lambda:us-east-1:000000000000:function:${arnOf}`;
    await e2e.lambda.send(
      new CreateFunctionCommand(
        functionInput(
          arnOf,
          `const http = require('http');
          exports.handler = async (event, context) => {
            if (event.callback) {
              await new Promise((resolve, reject) => {
                const req = http.request(event.callback, { method: 'POST' }, (res) => { res.resume(); res.on('end', resolve); });
                req.on('error', reject);
                req.end(context.invokedFunctionArn);
              });
            }
            return context.invokedFunctionArn;
          };`,
        ),
      ),
    );
    const invoked = async (input: { FunctionName: string; Qualifier?: string }) =>
      JSON.parse(decode((await e2e.lambda.send(new InvokeCommand(input))).Payload)) as string;
    assert.equal(await invoked({ FunctionName: arnOf }), unqualified);
    assert.equal(await invoked({ FunctionName: unqualified }), unqualified);
    assert.equal(await invoked({ FunctionName: arnOf, Qualifier: '$LATEST' }), `${unqualified}:$LATEST`);
    assert.equal(await invoked({ FunctionName: `${arnOf}:$LATEST` }), `${unqualified}:$LATEST`);
    assert.equal(await invoked({ FunctionName: `000000000000:function:${arnOf}:$LATEST` }), `${unqualified}:$LATEST`);
    // An async invocation carries it too.
    const callbacks = await CallbackListener.start();
    try {
      const payload = Buffer.from(JSON.stringify({ callback: `${callbacks.url}/arn` }));
      await e2e.lambda.send(new InvokeCommand({ FunctionName: arnOf, Qualifier: '$LATEST', InvocationType: 'Event', Payload: payload }));
      const [arrived] = await callbacks.waitForCount(1);
      assert.equal(arrived?.body, `${unqualified}:$LATEST`);
    } finally {
      await callbacks.close();
    }
  });

  it("names an InvokeAsync by its invocation's request id, and holds its payload to 256 KB", async () => {
    const fn = uniqueName('invokeasync');
    await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(fn, `exports.handler = async (event, context) => { await fetch(event.callback, { method: 'POST', body: context.awsRequestId }); };`)),
    );
    const callbacks = await CallbackListener.start();
    try {
      const out = await e2e.lambda.send(new InvokeAsyncCommand({ FunctionName: fn, InvokeArgs: Buffer.from(JSON.stringify({ callback: callbacks.url })) }));
      assert.equal(out.Status, 202);
      const [arrived] = await callbacks.waitForCount(1);
      assert.equal(arrived?.body, out.$metadata.requestId);
    } finally {
      await callbacks.close();
    }
    await rejects(
      e2e.lambda.send(new InvokeAsyncCommand({ FunctionName: fn, InvokeArgs: Buffer.alloc(256 * 1024 + 1, 0x20) })),
      'RequestTooLargeException',
      /^262145 byte payload is too large for the Event invocation type \(limit 262144 bytes\)$/,
    );
    await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: fn }));
  });

  it('passes ClientContext to synchronous invocations only, as AWS does', async () => {
    const fn = uniqueName('context');
    await e2e.lambda.send(
      new CreateFunctionCommand(
        functionInput(
          fn,
          `exports.handler = async (event, context) => {
            const seen = JSON.stringify(context.clientContext ?? null);
            if (event.callback) await fetch(event.callback, { method: 'POST', body: seen });
            return seen;
          };`,
        ),
      ),
    );
    const ClientContext = Buffer.from(JSON.stringify({ custom: { from: 'app' } })).toString('base64');
    const sync = await e2e.lambda.send(new InvokeCommand({ FunctionName: fn, ClientContext }));
    assert.deepEqual(JSON.parse(JSON.parse(decode(sync.Payload)) as string), { custom: { from: 'app' } });
    const callbacks = await CallbackListener.start();
    try {
      await e2e.lambda.send(new InvokeCommand({ FunctionName: fn, InvocationType: 'Event', ClientContext, Payload: Buffer.from(JSON.stringify({ callback: `${callbacks.url}/context` })) }));
      const [arrived] = await callbacks.waitForCount(1);
      assert.equal(arrived?.body, 'null');
    } finally {
      await callbacks.close();
    }
    // It is still checked: a bad one is refused whatever the invocation type.
    await rejects(e2e.lambda.send(new InvokeCommand({ FunctionName: fn, InvocationType: 'Event', ClientContext: 'hello' })), 'InvalidRequestContentException', /Client context must be/);
  });

  it('runs a function through the AWS_LAMBDA_EXEC_WRAPPER in its package', async () => {
    const fn = uniqueName('wrapped');
    const zip = buildZip(
      {
        'index.js': 'exports.handler = async () => process.env.WRAPPED;',
        'bin/wrapper': '#!/bin/sh\nexport WRAPPED="yes, $(basename "$1")"\nexec "$@"\n',
      },
      ['bin/wrapper'],
    );
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(fn, zip, { Environment: { Variables: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/bin/wrapper' } } })));
    const invoked = await e2e.lambda.send(new InvokeCommand({ FunctionName: fn }));
    assert.equal(invoked.FunctionError, undefined, decode(invoked.Payload));
    assert.equal(JSON.parse(decode(invoked.Payload)), 'yes, node');
  });

  it("gives a function its role's credentials without any setting, so the SDK in a handler works as it comes", async () => {
    const caller = uniqueName('creds');
    const code = `
const { LambdaClient, GetFunctionConfigurationCommand } = require('@aws-sdk/client-lambda');
exports.handler = async () => {
  const set = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'].filter((k) => (process.env[k] ?? '') !== '');
  const own = await new LambdaClient({}).send(new GetFunctionConfigurationCommand({ FunctionName: process.env.AWS_LAMBDA_FUNCTION_NAME }));
  return { set, found: own.FunctionName };
};`;
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(caller, code)));
    const out = await e2e.lambda.send(new InvokeCommand({ FunctionName: caller }));
    assert.equal(out.FunctionError, undefined, decode(out.Payload));
    assert.deepEqual(JSON.parse(decode(out.Payload)), { set: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], found: caller });
    await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: caller }));
  });

  it('hands a null payload to the handler as null, and an empty one as {}', async () => {
    const withNull = await e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('null') }));
    assert.deepEqual(JSON.parse(decode(withNull.Payload)), { got: null });
    const empty = await e2e.lambda.send(new InvokeCommand({ FunctionName: name }));
    assert.deepEqual(JSON.parse(decode(empty.Payload)), { got: {} });
  });

  it('runs every Node.js runtime it supports, 18 to 26, each on its own Node.js, and names them when refusing another', async () => {
    for (const runtime of ['nodejs18.x', 'nodejs20.x', 'nodejs22.x', 'nodejs24.x', 'nodejs26.x'] as const) {
      const fn = uniqueName('runtime');
      // `node` on PATH is the function's Node.js too, as /var/lang/bin is on AWS.
      const handler = "exports.handler = async () => [process.env.AWS_EXECUTION_ENV, process.version, require('node:child_process').execFileSync('node', ['--version'], { encoding: 'utf8' }).trim()];";
      await e2e.lambda.send(new CreateFunctionCommand(functionInput(fn, handler, { Runtime: runtime })));
      const answer = await e2e.lambda.send(new InvokeCommand({ FunctionName: fn }));
      assert.equal(answer.FunctionError, undefined, decode(answer.Payload));
      const [env, version, onPath] = JSON.parse(decode(answer.Payload)) as [string, string, string];
      assert.equal(env, `AWS_Lambda_${runtime}`);
      assert.match(version, new RegExp(`^v${runtime.slice('nodejs'.length, -'.x'.length)}\\.`));
      assert.equal(onPath, version);
      await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: fn }));
    }
    await rejects(
      e2e.lambda.send(new CreateFunctionCommand(functionInput(uniqueName('runtime'), 'exports.handler = async () => 1;', { Runtime: 'python3.13' }))),
      'InvalidParameterValueException',
      /^The runtime parameter of python3\.13 is not supported by this Tributary build\. Supported runtimes: nodejs18\.x, nodejs20\.x, nodejs22\.x, nodejs24\.x, nodejs26\.x\.$/,
    );
    // Node.js 16 and older are past both of AWS's deprecation blocks: no function is created with one, or changed to one.
    const blocked = /^The runtime parameter of nodejs16\.x is no longer supported for creating or updating AWS Lambda functions\. We recommend you use the new runtime \(nodejs26\.x\) while creating or updating functions\.$/;
    await rejects(e2e.lambda.send(new CreateFunctionCommand(functionInput(uniqueName('runtime'), 'exports.handler = async () => 1;', { Runtime: 'nodejs16.x' }))), 'InvalidParameterValueException', blocked);
    await rejects(e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Runtime: 'nodejs16.x' })), 'InvalidParameterValueException', blocked);
    assert.equal((await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }))).Runtime, 'nodejs20.x');
    // Node.js 24 took callbacks away, and 26 keeps them away: such a handler deploys, and fails at init as on AWS.
    for (const runtime of ['nodejs24.x', 'nodejs26.x'] as const) {
      const callback = uniqueName('callback');
      await e2e.lambda.send(new CreateFunctionCommand(functionInput(callback, 'exports.handler = (event, context, callback) => callback(null, 1);', { Runtime: runtime })));
      const refused = await e2e.lambda.send(new InvokeCommand({ FunctionName: callback }));
      assert.equal(refused.FunctionError, 'Unhandled', runtime);
      assert.equal((JSON.parse(decode(refused.Payload)) as { errorType: string }).errorType, 'Runtime.CallbackHandlerDeprecated', runtime);
      await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: callback }));
    }
  });

  it('logs a function in JSON at the levels of its LoggingConfig, and back in text when asked', async () => {
    const logged = uniqueName('jsonlogs');
    const created = await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(logged, "exports.handler = async () => { console.debug('detail'); console.info('done'); return 1; };", { LoggingConfig: { LogFormat: 'JSON' } })),
    );
    try {
      // AWS's defaults for the levels JSON was not given.
      assert.deepEqual(created.LoggingConfig, { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'INFO', LogGroup: `/aws/lambda/${logged}` });
      const tailOf = async () => {
        const out = await e2e.lambda.send(new InvokeCommand({ FunctionName: logged, LogType: 'Tail' }));
        return Buffer.from(out.LogResult ?? '', 'base64').toString().trimEnd().split('\n');
      };
      const lines = (await tailOf()).map((line) => JSON.parse(line) as { type?: string; level?: string; message?: string });
      assert.deepEqual(lines.map((r) => r.type ?? `${r.level} ${r.message}`), ['platform.start', 'INFO done', 'platform.report']);
      // A level alone keeps the format; the other level stays.
      const debug = await e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: logged, LoggingConfig: { ApplicationLogLevel: 'DEBUG' } }));
      assert.deepEqual(debug.LoggingConfig, { LogFormat: 'JSON', ApplicationLogLevel: 'DEBUG', SystemLogLevel: 'INFO', LogGroup: `/aws/lambda/${logged}` });
      assert.deepEqual((await tailOf()).map((line) => (JSON.parse(line) as { message?: string }).message).filter(Boolean), ['detail', 'done']);
      const text = await e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: logged, LoggingConfig: { LogFormat: 'Text' } }));
      assert.deepEqual(text.LoggingConfig, { LogFormat: 'Text', LogGroup: `/aws/lambda/${logged}` });
      assert.match((await tailOf())[0] ?? '', /^START RequestId: /);
      // Levels belong to JSON logs only; a system level must be one of the platform's.
      await rejects(
        e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: logged, LoggingConfig: { ApplicationLogLevel: 'DEBUG' } })),
        'InvalidParameterValueException',
        /can be set only with LogFormat JSON/,
      );
      await rejects(
        e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: logged, LoggingConfig: { LogFormat: 'JSON', SystemLogLevel: 'ERROR' as 'WARN' } })),
        'ValidationException',
        /Member must satisfy enum value set: \[DEBUG, INFO, WARN\]/,
      );
    } finally {
      await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: logged }));
    }
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

  it('lets one of several updates naming the same RevisionId through, and refuses the others', async () => {
    const { RevisionId } = await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    const writers = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Description: `writer ${i}`, RevisionId })));
    const outcomes = await Promise.allSettled(writers);
    const won = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    assert.equal(won.length, 1, 'exactly one update may succeed');
    for (const o of outcomes) if (o.status === 'rejected') assert.equal((o.reason as Error).name, 'PreconditionFailedException');
    assert.equal((await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }))).Description, won[0]?.Description);
  });

  it('refuses the settings it cannot honour instead of dropping them', async () => {
    const other = uniqueName('unsupported');
    const code = 'exports.handler = async () => 1;';
    const refusedAtCreate: Array<[Parameters<typeof functionInput>[2], RegExp]> = [
      [{ Publish: true }, /^Publish is not supported/],
      [{ Layers: ['arn:aws:lambda:us-east-1:000000000000:layer:shared:1'] }, /^Layers is not supported/],
      [{ VpcConfig: { SubnetIds: ['subnet-1'], SecurityGroupIds: ['sg-1'] } }, /^VpcConfig is not supported/],
      [{ KMSKeyArn: 'arn:aws:kms:us-east-1:000000000000:key/k' }, /^KMSKeyArn is not supported/],
      [{ FileSystemConfigs: [{ Arn: 'arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/fsap-1', LocalMountPath: '/mnt/x' }] }, /^FileSystemConfigs is not supported/],
      [{ ImageConfig: { Command: ['x'] } }, /^ImageConfig is not supported/],
      [{ CodeSigningConfigArn: 'arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-1' }, /^CodeSigningConfigArn is not supported/],
      [{ SnapStart: { ApplyOn: 'PublishedVersions' } }, /^SnapStart is not supported/],
    ];
    for (const [extra, message] of refusedAtCreate) {
      await rejects(e2e.lambda.send(new CreateFunctionCommand(functionInput(other, code, extra))), 'InvalidParameterValueException', message);
    }
    await rejects(e2e.lambda.send(new CreateFunctionCommand(functionInput(other, code, { Layers: ['not-an-arn'] }))), 'ValidationException', /at 'layers' failed to satisfy constraint/);
    await rejects(e2e.lambda.send(new CreateFunctionCommand(functionInput(other, code, { SnapStart: { ApplyOn: 'Bogus' as 'None' } }))), 'ValidationException', /enum value set: \[PublishedVersions, None\]/);
    await rejects(e2e.lambda.send(new CreateFunctionCommand(functionInput(other, code, { Architectures: [] }))), 'ValidationException', /Member must have length greater than or equal to 1/);
    await assert.rejects(e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: other })), ResourceNotFoundException);

    // Empty values are how a setting is removed: they pass.
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(other, code, { Layers: [], VpcConfig: { SubnetIds: [], SecurityGroupIds: [] }, KMSKeyArn: '' })));
    await rejects(e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: other, Layers: ['arn:aws:lambda:us-east-1:000000000000:layer:shared:1'] })), 'InvalidParameterValueException', /^Layers is not supported/);
    await rejects(e2e.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: other, ZipFile: buildZip({ 'index.js': code }), Publish: true })), 'InvalidParameterValueException', /^Publish is not supported/);
    await rejects(e2e.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: other, ZipFile: buildZip({ 'index.js': code }), Architectures: [] })), 'ValidationException', /greater than or equal to 1/);
  });

  it('reads a member sent as JSON null as absent, as AWS does, and refuses a list where a structure belongs', async () => {
    // The SDK never sends null; a hand-written request (curl, a script, another language's JSON) may.
    const other = uniqueName('nulls');
    await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(other, 'exports.handler = async () => process.env.GREETING;', { Timeout: 7, MemorySize: 256, Description: 'kept', Environment: { Variables: { GREETING: 'hello' } } })),
    );
    const put = (path: 'configuration' | 'code', body: unknown) =>
      fetch(`${e2e.stack.url('api')}/2015-03-31/functions/${other}/${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const before = await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: other }));

    const nulls = await put('configuration', {
      Timeout: null, MemorySize: null, Handler: null, Runtime: null, Role: null, Description: null,
      Environment: null, EphemeralStorage: null, TracingConfig: null, LoggingConfig: { LogGroup: null },
    });
    assert.equal(nulls.status, 200, await nulls.text());
    const after = await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: other }));
    for (const key of ['Timeout', 'MemorySize', 'Handler', 'Runtime', 'Role', 'Description', 'Environment', 'EphemeralStorage', 'TracingConfig', 'LoggingConfig'] as const) {
      assert.deepEqual(after[key], before[key], key);
    }
    const code = await put('code', { ZipFile: Buffer.from(buildZip({ 'index.js': 'exports.handler = async () => `${process.env.GREETING} again`;' })).toString('base64'), Architectures: null, RevisionId: null });
    assert.equal(code.status, 200, await code.text());
    assert.deepEqual((await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: other }))).Architectures, ['x86_64']);
    // The function still runs with what it had.
    const invoked = await e2e.lambda.send(new InvokeCommand({ FunctionName: other }));
    assert.equal(invoked.FunctionError, undefined, decode(invoked.Payload));
    assert.equal(decode(invoked.Payload), '"hello again"');

    for (const body of [{ Environment: [] }, { EphemeralStorage: [] }, { Environment: { Variables: { GREETING: null } } }]) {
      const refused = await put('configuration', body);
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.equal(refused.headers.get('x-amzn-errortype'), 'ValidationException', JSON.stringify(body));
    }
    assert.deepEqual((await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: other }))).Environment, { Variables: { GREETING: 'hello' } });
  });

  it("words a missing member and a bad environment variable name as AWS does", async () => {
    const { Code, ...noCode } = functionInput(uniqueName('nocode'), buildZip({ 'index.js': '' }));
    assert.ok(Code);
    await rejects(
      e2e.lambda.send(new CreateFunctionCommand(noCode as never)),
      'ValidationException',
      /^1 validation error detected: Value null at 'code' failed to satisfy constraint: Member must not be null$/,
    );
    for (const key of ['A', '1A', 'A-B']) {
      await rejects(
        e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Environment: { Variables: { [key]: 'x' } } })),
        'ValidationException',
        /^1 validation error detected: Value at 'environment\.variables' failed to satisfy constraint: Map keys must satisfy constraint: \[Member must satisfy regular expression pattern: \[a-zA-Z\]\(\[a-zA-Z0-9_\]\)\+\]$/,
      );
    }
  });

  it('refuses environment variables over 4 KB in AWS\'s words, naming the string it measured', async () => {
    const Variables = { BIG: 'x'.repeat(4090) };
    const error = await rejects(
      e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Environment: { Variables } })),
      'InvalidParameterValueException',
      /^Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit\. String measured: /,
    );
    assert.ok(error.message.endsWith(`String measured: ${JSON.stringify(Variables)}`));
    await e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Environment: { Variables: { BIG: 'x'.repeat(4080) } } }));
    await e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Environment: { Variables: {} } }));
  });

  it('refuses JSON nested too deeply to check with a 400, and runs an invoke payload nested as deeply', async () => {
    const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    const api = `${e2e.stack.url('api')}/2015-03-31/functions`;
    const refused = await fetch(api, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"FunctionName":"${uniqueName('deep')}","X":${deep(5000)}}` });
    assert.equal(refused.status, 400);
    assert.equal(refused.headers.get('x-amzn-errortype'), 'ValidationException');
    const fn = uniqueName('deep');
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(fn, 'exports.handler = async (e) => { let d = 0; while (Array.isArray(e)) { e = e[0]; d++; } return d; };')));
    const answer = await e2e.lambda.send(new InvokeCommand({ FunctionName: fn, Payload: Buffer.from(deep(5000)) }));
    assert.equal(decode(answer.Payload), '5000');
    assert.equal((await e2e.lambda.send(new InvokeCommand({ FunctionName: fn, InvocationType: 'Event', Payload: Buffer.from(deep(5000)) }))).StatusCode, 202);
    await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: fn }));
  });

  it("keeps environment variables and tags whose keys are named as an object's members", async () => {
    const fn = uniqueName('keys');
    const Variables = { constructor: 'c', toString: 't', valueOf: 'v', hasOwnProperty: 'h' };
    const Tags = { constructor: 'c', toString: 't', team: 'x' };
    const created = await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(fn, 'exports.handler = async () => [process.env.constructor, process.env.toString, process.env.valueOf];', { Environment: { Variables }, Tags })),
    );
    assert.deepEqual(created.Environment?.Variables, Variables);
    assert.deepEqual((await e2e.lambda.send(new ListTagsCommand({ Resource: created.FunctionArn }))).Tags, Tags);
    assert.equal(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: fn }))).Payload), '["c","t","v"]');
    await e2e.lambda.send(new TagResourceCommand({ Resource: created.FunctionArn, Tags: { valueOf: 'v2' } }));
    assert.deepEqual((await e2e.lambda.send(new ListTagsCommand({ Resource: created.FunctionArn }))).Tags, { ...Tags, valueOf: 'v2' });
    const updated = await e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: fn, Environment: { Variables: { constructor: 'c2' } } }));
    assert.deepEqual(updated.Environment?.Variables, { constructor: 'c2' });
    await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: fn }));
  });

  it('refuses a payload that is not UTF-8 rather than altering it', async () => {
    const payload = Uint8Array.from([...Buffer.from('{"a":"'), 0xff, 0xfe, ...Buffer.from('"}')]);
    await rejects(e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: payload })), 'InvalidRequestContentException', /Invalid UTF-8/);
    await rejects(e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: payload, InvocationType: 'Event' })), 'InvalidRequestContentException', /Invalid UTF-8/);
  });

  it('checks ListFunctions filters', async () => {
    const all = (await e2e.lambda.send(new ListFunctionsCommand({ FunctionVersion: 'ALL' }))).Functions?.find((f) => f.FunctionName === name);
    // Every version is listed, $LATEST under its qualified ARN; without the filter, the function's own.
    assert.deepEqual([all?.Version, all?.FunctionArn], ['$LATEST', `${arn('us-east-1')}:$LATEST`]);
    const plain = (await e2e.lambda.send(new ListFunctionsCommand({}))).Functions?.find((f) => f.FunctionName === name);
    assert.equal(plain?.FunctionArn, arn('us-east-1'));
    // AWS lists a subset of the configuration: the states are GetFunction's.
    assert.deepEqual([plain?.State, plain?.LastUpdateStatus, all?.State], [undefined, undefined, undefined]);
    // So is RuntimeVersionConfig, AWS's name for the runtime's release: one per runtime and release.
    assert.equal(plain?.RuntimeVersionConfig, undefined);
    const configured = await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    const release = configured.RuntimeVersionConfig?.RuntimeVersionArn ?? '';
    assert.match(release, /^arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}$/);
    assert.equal((await e2e.lambda.send(new GetFunctionCommand({ FunctionName: name }))).Configuration?.RuntimeVersionConfig?.RuntimeVersionArn, release);
    const on22 = await e2e.lambda.send(new CreateFunctionCommand({ ...functionInput(uniqueName('release'), 'exports.handler = async () => 1;'), Runtime: 'nodejs22.x' }));
    assert.match(on22.RuntimeVersionConfig?.RuntimeVersionArn ?? '', /^arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}$/);
    assert.notEqual(on22.RuntimeVersionConfig?.RuntimeVersionArn, release);
    await rejects(e2e.lambda.send(new ListFunctionsCommand({ FunctionVersion: 'SOME' as 'ALL' })), 'ValidationException', /at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: \[ALL\]/);
    await rejects(e2e.lambda.send(new ListFunctionsCommand({ MasterRegion: 'nowhere', FunctionVersion: 'ALL' })), 'ValidationException', /at 'masterRegion' failed to satisfy constraint/);
    assert.deepEqual((await e2e.lambda.send(new ListFunctionsCommand({ MasterRegion: 'us-east-1', FunctionVersion: 'ALL' }))).Functions, []);
    // Alone, MasterRegion is refused in AWS's words (aws/aws-cli#2911).
    await rejects(
      e2e.lambda.send(new ListFunctionsCommand({ MasterRegion: 'us-east-1' })),
      'InvalidParameterValueException',
      /^The combination MasterArn=us-east-1 and FunctionVersion=NULL is not supported\./,
    );
    // MaxItems must be an integer as written: not one JavaScript's Number() would make of it.
    for (const odd of ['1e1', '0x10', '5.0', '', 'ten']) {
      const answer = await fetch(`${e2e.stack.url('api')}/2015-03-31/functions/?MaxItems=${encodeURIComponent(odd)}`);
      assert.deepEqual([answer.status, answer.headers.get('x-amzn-errortype')], [400, 'ValidationException'], odd);
      assert.match(((await answer.json()) as { message: string }).message, new RegExp(`Value '${odd}' at 'maxItems'`), odd);
    }
    assert.equal((await (await fetch(`${e2e.stack.url('api')}/2015-03-31/functions/?MaxItems=%2B7`)).json() as { Functions: unknown[] }).Functions.length <= 7, true);
  });

  it('answers the calls deployment tools make around a function', async () => {
    const versions = await e2e.lambda.send(new ListVersionsByFunctionCommand({ FunctionName: name }));
    assert.deepEqual(versions.Versions?.map((v) => [v.Version, v.FunctionArn]), [['$LATEST', `${arn('us-east-1')}:$LATEST`]]);
    assert.deepEqual((await e2e.lambda.send(new ListAliasesCommand({ FunctionName: name }))).Aliases, []);
    assert.equal((await e2e.lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: name }))).ReservedConcurrentExecutions, undefined);
    const signing = await e2e.lambda.send(new GetFunctionCodeSigningConfigCommand({ FunctionName: name }));
    assert.deepEqual([signing.FunctionName, signing.CodeSigningConfigArn], [name, '']);
    const runtime = await e2e.lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: name }));
    assert.deepEqual([runtime.UpdateRuntimeOn, runtime.FunctionArn], ['Auto', arn('us-east-1')]);
    await rejects(
      e2e.lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: name })),
      'ResourceNotFoundException',
      new RegExp(`^The function ${arn('us-east-1')}:\\$LATEST doesn't have an EventInvokeConfig$`),
    );
    await rejects(e2e.lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: name })), 'ResourceNotFoundException', /does not exist/);
    assert.deepEqual((await e2e.lambda.send(new ListEventSourceMappingsCommand({}))).EventSourceMappings, []);
    const account = await e2e.lambda.send(new GetAccountSettingsCommand({}));
    assert.equal(account.AccountLimit?.CodeSizeZipped, 50 * 1024 * 1024);
    assert.ok((account.AccountUsage?.FunctionCount ?? 0) >= 1);
    assert.equal((await e2e.lambda.send(new InvokeAsyncCommand({ FunctionName: name, InvokeArgs: Buffer.from('{}') }))).Status, 202);
    const missing = uniqueName('missing');
    await assert.rejects(e2e.lambda.send(new ListVersionsByFunctionCommand({ FunctionName: missing })), ResourceNotFoundException);
    await assert.rejects(e2e.lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: missing })), ResourceNotFoundException);
  });

  it("lets the SDK's waiters, which deployment tools call after every change, see a function ready", async () => {
    const fn = uniqueName('waiters');
    // A waiter that does not see its state retries until maxWaitTime, then throws TimeoutError.
    const waiting = { client: e2e.lambda, maxWaitTime: 5, minDelay: 1, maxDelay: 1 };
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(fn, 'exports.handler = async () => 1;')));
    try {
      for (const wait of [waitUntilFunctionExists, waitUntilFunctionActiveV2, waitUntilFunctionActive]) {
        assert.equal((await wait(waiting, { FunctionName: fn })).state, 'SUCCESS', wait.name);
      }
      await e2e.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: fn, ZipFile: buildZip({ 'index.js': 'exports.handler = async () => 2;' }) }));
      assert.equal((await waitUntilFunctionUpdatedV2(waiting, { FunctionName: fn })).state, 'SUCCESS');
      await e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: fn, Description: 'waited for' }));
      assert.equal((await waitUntilFunctionUpdated(waiting, { FunctionName: fn })).state, 'SUCCESS');
      assert.equal(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: fn }))).Payload), '2');
    } finally {
      await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: fn }));
    }
    // Gone, the function is never seen: FunctionExists retries ResourceNotFoundException until it gives up.
    await assert.rejects(waitUntilFunctionExists({ ...waiting, maxWaitTime: 2 }, { FunctionName: fn }), { name: 'TimeoutError' });
  });

  it('answers the lookups of settings a function has none of, and refuses by name the writes of features this build lacks', async () => {
    // An ARN holds nothing a RegExp reads as special.
    await rejects(e2e.lambda.send(new GetAliasCommand({ FunctionName: name, Name: 'live' })), 'ResourceNotFoundException', new RegExp(`^Cannot find alias arn: ${arn('us-east-1')}:live$`));
    assert.deepEqual((await e2e.lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: name }))).FunctionEventInvokeConfigs, []);
    assert.deepEqual((await e2e.lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName: name }))).FunctionUrlConfigs, []);
    assert.deepEqual((await e2e.lambda.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: name }))).ProvisionedConcurrencyConfigs, []);
    await rejects(
      e2e.lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: name, Qualifier: '$LATEST' })),
      'ProvisionedConcurrencyConfigNotFoundException',
      /^No Provisioned Concurrency Config found for this function$/,
    );
    assert.equal((await e2e.lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: name }))).$metadata.httpStatusCode, 204);
    // The deletes a teardown script makes, which must be "not found" (or done), never an unknown operation.
    await rejects(e2e.lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: name })), 'ResourceNotFoundException', /^The resource you requested does not exist\.$/);
    await rejects(
      e2e.lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: name })),
      'ResourceNotFoundException',
      new RegExp(`^The function ${arn('us-east-1')}:\\$LATEST doesn't have an EventInvokeConfig$`),
    );
    await rejects(
      e2e.lambda.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: name, Qualifier: '$LATEST' })),
      'InvalidParameterValueException',
      /^The function resource provided must be an alias or a published version\.$/,
    );
    await rejects(e2e.lambda.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: name, Qualifier: '1' })), 'ResourceNotFoundException', /:1$/);
    assert.equal((await e2e.lambda.send(new DeleteFunctionCodeSigningConfigCommand({ FunctionName: name }))).$metadata.httpStatusCode, 204);
    // Auto, which every function here has, is taken; a pinned runtime is refused by name.
    const auto = await e2e.lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: name, UpdateRuntimeOn: 'Auto' }));
    assert.deepEqual([auto.UpdateRuntimeOn, auto.FunctionArn, auto.RuntimeVersionArn], ['Auto', arn('us-east-1'), undefined]);
    await rejects(
      e2e.lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: name, UpdateRuntimeOn: 'Manual', RuntimeVersionArn: 'arn:aws:lambda:us-east-1::runtime:0' })),
      'InvalidParameterValueException',
      /^UpdateRuntimeOn Manual is not supported by this Tributary build: /,
    );
    // The body is checked before the function is looked for, as AWS's model checks come first.
    await rejects(
      e2e.lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: uniqueName('missing'), UpdateRuntimeOn: 'Sometimes' as 'Auto' })),
      'ValidationException',
      /at 'updateRuntimeOn' failed to satisfy constraint/,
    );
    await rejects(
      e2e.lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: name, UpdateRuntimeOn: 'Sometimes' as 'Auto' })),
      'ValidationException',
      /at 'updateRuntimeOn' failed to satisfy constraint: Member must satisfy enum value set: \[Auto, Manual, FunctionUpdate\]/,
    );
    assert.deepEqual((await e2e.lambda.send(new ListLayersCommand({}))).Layers, []);
    assert.deepEqual((await e2e.lambda.send(new ListLayerVersionsCommand({ LayerName: 'any' }))).LayerVersions, []);
    // Lookups of one layer version or mapping find none (GetLayerVersionByArn shares ListLayers' path).
    const layer = 'arn:aws:lambda:us-east-1:000000000000:layer:shared';
    await rejects(e2e.lambda.send(new GetLayerVersionByArnCommand({ Arn: `${layer}:3` })), 'ResourceNotFoundException', new RegExp(`^Layer version ${layer}:3 does not exist\\.$`));
    await rejects(e2e.lambda.send(new GetLayerVersionCommand({ LayerName: 'shared', VersionNumber: 3 })), 'ResourceNotFoundException', new RegExp(`^Layer version ${layer}:3 does not exist\\.$`));
    const mapping = '14e0db71-5d35-4eb5-b481-8945cf9d10c2';
    for (const lookup of [
      () => e2e.lambda.send(new GetEventSourceMappingCommand({ UUID: mapping })),
      () => e2e.lambda.send(new UpdateEventSourceMappingCommand({ UUID: mapping, BatchSize: 5 })),
      () => e2e.lambda.send(new DeleteEventSourceMappingCommand({ UUID: mapping })),
    ]) {
      await rejects(lookup(), 'ResourceNotFoundException', /^The resource you requested does not exist\.$/);
    }
    assert.deepEqual((await e2e.lambda.send(new ListCodeSigningConfigsCommand({}))).CodeSigningConfigs, []);

    const refused: Array<[string, () => Promise<unknown>]> = [
      ['PublishVersion', () => e2e.lambda.send(new PublishVersionCommand({ FunctionName: name }))],
      ['CreateAlias', () => e2e.lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'live', FunctionVersion: '$LATEST' }))],
      ['PutFunctionConcurrency', () => e2e.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: 1 }))],
      ['PutFunctionEventInvokeConfig', () => e2e.lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: name, MaximumRetryAttempts: 0 }))],
      ['CreateFunctionUrlConfig', () => e2e.lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'NONE' }))],
      ['PutFunctionCodeSigningConfig', () => e2e.lambda.send(new PutFunctionCodeSigningConfigCommand({ FunctionName: name, CodeSigningConfigArn: 'arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdefg' }))],
      ['CreateEventSourceMapping', () => e2e.lambda.send(new CreateEventSourceMappingCommand({ FunctionName: name, EventSourceArn: 'arn:aws:sqs:us-east-1:000000000000:q' }))],
    ];
    for (const [operation, call] of refused) await rejects(call(), 'InvalidParameterValueException', new RegExp(`^${operation} is not supported by this Tributary build: `));
    // The function is looked for first, as AWS does: a missing one is missing, whatever the operation.
    const missing = uniqueName('missing');
    await assert.rejects(e2e.lambda.send(new PublishVersionCommand({ FunctionName: missing })), ResourceNotFoundException);
    await assert.rejects(e2e.lambda.send(new GetAliasCommand({ FunctionName: missing, Name: 'live' })), ResourceNotFoundException);
    await assert.rejects(e2e.lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: missing })), (e: Error) => e instanceof ResourceNotFoundException && /^Function not found/.test(e.message));
    await assert.rejects(e2e.lambda.send(new DeleteFunctionCodeSigningConfigCommand({ FunctionName: missing })), ResourceNotFoundException);
    await assert.rejects(
      e2e.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: missing, ZipFile: buildZip({ 'index.js': 'exports.handler = async () => 1;' }), Publish: true })),
      ResourceNotFoundException,
    );
  });

  it('keeps the permissions AddPermission adds, written as AWS writes them, until RemovePermission', async () => {
    const fn = uniqueName('policy');
    const fnArn = `arn:aws:lambda:us-east-1:000000000000:function:${fn}`;
    const created = await e2e.lambda.send(new CreateFunctionCommand(functionInput(fn, 'exports.handler = async () => 1;')));
    await rejects(e2e.lambda.send(new GetPolicyCommand({ FunctionName: fn })), 'ResourceNotFoundException', /^The resource you requested does not exist\.$/);
    // The standard recipe before a bucket notification: let S3 invoke the function.
    const added = await e2e.lambda.send(
      new AddPermissionCommand({ FunctionName: fn, StatementId: 's3invoke', Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com', SourceArn: 'arn:aws:s3:::photos', SourceAccount: '123456789012' }),
    );
    assert.equal(added.$metadata.httpStatusCode, 201);
    const s3invoke = {
      Sid: 's3invoke',
      Effect: 'Allow',
      Principal: { Service: 's3.amazonaws.com' },
      Action: 'lambda:InvokeFunction',
      Resource: fnArn,
      Condition: { StringEquals: { 'AWS:SourceAccount': '123456789012' }, ArnLike: { 'AWS:SourceArn': 'arn:aws:s3:::photos' } },
    };
    assert.equal(added.Statement, JSON.stringify(s3invoke));
    await e2e.lambda.send(new AddPermissionCommand({ FunctionName: fn, StatementId: 'account', Action: 'lambda:GetFunction', Principal: '111122223333' }));
    const policy = await e2e.lambda.send(new GetPolicyCommand({ FunctionName: fn }));
    const account = { Sid: 'account', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'lambda:GetFunction', Resource: fnArn };
    assert.deepEqual(JSON.parse(policy.Policy ?? '{}'), { Version: '2012-10-17', Id: 'default', Statement: [s3invoke, account] });
    await rejects(
      e2e.lambda.send(new AddPermissionCommand({ FunctionName: fn, StatementId: 'account', Action: 'lambda:InvokeFunction', Principal: '*' })),
      'ResourceConflictException',
      /^The statement id \(account\) provided already exists\. Please provide a new statement id, or remove the existing statement\.$/,
    );
    await rejects(
      e2e.lambda.send(new AddPermissionCommand({ FunctionName: fn, StatementId: 'stale', Action: 'lambda:InvokeFunction', Principal: '*', RevisionId: created.RevisionId ?? '' })),
      'PreconditionFailedException',
      /Call the GetPolicy API/,
    );
    await rejects(
      e2e.lambda.send(new AddPermissionCommand({ FunctionName: fn, StatementId: 'bad', Action: 'sqs:SendMessage', Principal: '*' })),
      'ValidationException',
      /at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern/,
    );
    await rejects(e2e.lambda.send(new AddPermissionCommand({ FunctionName: fn, StatementId: 'who', Action: 'lambda:InvokeFunction', Principal: 'somebody' })), 'InvalidParameterValueException', /principal was invalid/);
    // $LATEST has no policy of its own, in AWS's words (terraform-aws-modules/terraform-aws-lambda#36).
    for (const latest of [{ FunctionName: fn, Qualifier: '$LATEST' }, { FunctionName: `${fn}:$LATEST` }]) {
      await rejects(
        e2e.lambda.send(new AddPermissionCommand({ ...latest, StatementId: 'latest', Action: 'lambda:InvokeFunction', Principal: '*' })),
        'InvalidParameterValueException',
        /^We currently do not support adding policies for \$LATEST\.$/,
      );
    }
    await rejects(e2e.lambda.send(new GetPolicyCommand({ FunctionName: fn, Qualifier: '$LATEST' })), 'ResourceNotFoundException', /does not exist/);
    await assert.rejects(e2e.lambda.send(new AddPermissionCommand({ FunctionName: uniqueName('missing'), StatementId: 's', Action: '*', Principal: '*' })), ResourceNotFoundException);
    // A policy is no change of code or configuration: the function's RevisionId stays.
    assert.equal((await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: fn }))).RevisionId, created.RevisionId);
    const removed = await e2e.lambda.send(new RemovePermissionCommand({ FunctionName: fn, StatementId: 's3invoke', RevisionId: policy.RevisionId ?? '' }));
    assert.equal(removed.$metadata.httpStatusCode, 204);
    await rejects(e2e.lambda.send(new RemovePermissionCommand({ FunctionName: fn, StatementId: 's3invoke' })), 'ResourceNotFoundException', /^Statement s3invoke is not found in resource policy\.$/);
    await e2e.lambda.send(new RemovePermissionCommand({ FunctionName: fn, StatementId: 'account' }));
    // Alexa's principals are amazon.com ones.
    const alexa = await e2e.lambda.send(new AddPermissionCommand({ FunctionName: fn, StatementId: 'alexa', Action: 'lambda:InvokeFunction', Principal: 'alexa-appkit.amazon.com', EventSourceToken: 'amzn1.ask.skill.1' }));
    assert.deepEqual(JSON.parse(alexa.Statement ?? '{}').Principal, { Service: 'alexa-appkit.amazon.com' });
    await e2e.lambda.send(new RemovePermissionCommand({ FunctionName: fn, StatementId: 'alexa' }));
    await rejects(e2e.lambda.send(new GetPolicyCommand({ FunctionName: fn })), 'ResourceNotFoundException', /^The resource you requested does not exist\.$/);
  });

  // The JavaScript SDK reads either spelling into `message`; boto3 and others read the modeled member.
  it("spells each error's message member as AWS's model does: Message for ResourceNotFoundException, message for most", async () => {
    const api = e2e.stack.url('api');
    const missing = await fetch(`${api}/2015-03-31/functions/${uniqueName('missing')}`);
    assert.equal(missing.status, 404);
    const notFound = (await missing.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(notFound).sort(), ['Message', 'Type']);
    assert.match(String(notFound['Message']), /^Function not found: arn:aws:lambda:us-east-1:000000000000:function:/);
    const duplicate = await fetch(`${api}/2015-03-31/functions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'arn:aws:iam::000000000000:role/r', Code: { ZipFile: Buffer.from(buildZip({ 'index.js': '' })).toString('base64') } }),
    });
    assert.equal(duplicate.status, 409);
    assert.deepEqual(Object.keys((await duplicate.json()) as object).sort(), ['Type', 'message']);
  });

  it("gives /tmp the function's EphemeralStorage size, and a new size from the next cold start on", async (t) => {
    const sized = uniqueName('storage');
    // The size /tmp has, and whether it is the sandbox's own mount (not where the worker cannot make one).
    const code = `const fs = require('node:fs');
exports.handler = async () => ({ size: fs.statfsSync('/tmp').bsize * fs.statfsSync('/tmp').blocks,
  own: fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\\n').some((line) => line.split(' ')[4] === '/tmp' && line.includes(' - tmpfs tributary-tmp ')) });`;
    await e2e.lambda.send(new CreateFunctionCommand({ ...functionInput(sized, code), EphemeralStorage: { Size: 1024 } }));
    try {
      const size = async () => {
        const out = await e2e.lambda.send(new InvokeCommand({ FunctionName: sized }));
        assert.equal(out.FunctionError, undefined, decode(out.Payload));
        return JSON.parse(decode(out.Payload)) as { size: number; own: boolean };
      };
      const first = await size();
      if (!first.own) {
        t.skip('the worker cannot give sandboxes mounts of their own here (it says so at start)');
        return;
      }
      assert.equal(first.size, 1024 * 1024 * 1024);
      await e2e.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: sized, EphemeralStorage: { Size: 2048 } }));
      assert.deepEqual(await size(), { size: 2048 * 1024 * 1024, own: true });
    } finally {
      await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: sized }));
    }
  });

  // The worker switches users only as root, and only where they can read the runtime (this checkout).
  const ownUsers = process.getuid?.() === 0 && readableBy(fileURLToPath(import.meta.url), TEST_SANDBOX_USERS);
  it("keeps one function's environment and /tmp out of another's reach, as AWS's separate sandboxes do", { skip: !ownUsers && 'sandboxes run as the worker’s user here' }, async () => {
    const [victim, spy] = [uniqueName('victim'), uniqueName('spy')];
    // The victim writes to its os.tmpdir(): /tmp where sandboxes have mounts of their own, else a
    // directory of its own (a file in the host's shared /tmp would outlive the run, owned by a uid
    // the next run's victim may not have: checkouts under /tmp get no private mounts).
    await e2e.lambda.send(
      new CreateFunctionCommand({
        ...functionInput(victim, `require('node:fs').writeFileSync(require('node:path').join(require('node:os').tmpdir(), 'victim-file'), 'x');
const user = () => { try { return require('node:os').userInfo().username; } catch (e) { return e.code; } };
const own = require('node:fs').readFileSync('/proc/self/mountinfo', 'utf8').includes(' - tmpfs tributary-tmp ');
exports.handler = async () => ({ pid: process.pid, uid: process.getuid(), user: user(), own, api: process.env.AWS_LAMBDA_RUNTIME_API });`),
        Environment: { Variables: { VICTIM_SECRET: 'hunter2' } },
      }),
    );
    await e2e.lambda.send(
      new CreateFunctionCommand(
        functionInput(spy, `const fs = require('node:fs');
const tried = (f) => { try { return f(); } catch (e) { return e.code; } };
exports.handler = async (event) => ({
  environ: fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => String(tried(() => fs.readFileSync('/proc/' + p + '/environ', 'utf8'))).includes('VICTIM_SECRET')),
  tmp: tried(() => fs.readdirSync('/proc/' + event.pid + '/root/tmp')),
  signal: tried(() => process.kill(event.pid, 0)),
  next: await new Promise((resolve) => {
    const req = require('node:http').get('http://' + event.api + '/2018-06-01/runtime/invocation/next', (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', (e) => resolve(e.code));
    req.setTimeout(1000, () => { req.destroy(); resolve('waiting'); });
  }),
});`),
      ),
    );
    try {
      // The victim stays warm, its secret in its environment, while the spy looks.
      const seen = JSON.parse(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: victim }))).Payload)) as { pid: number; uid: number; user: string; own: boolean; api: string };
      assert.ok(seen.uid >= TEST_SANDBOX_USERS.uid, `the victim runs as a sandbox user, not as uid ${seen.uid}`);
      // Its name is in the passwd mounted in its namespace: without mounts of its own it has none.
      if (seen.own) assert.match(seen.user, /^sbx_user\d+$/);
      const found = JSON.parse(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: spy, Payload: JSON.stringify({ pid: seen.pid, api: seen.api }) }))).Payload));
      // Nor can it take the victim's next event from its Runtime API, which it could reach.
      assert.deepEqual(found, { environ: [], tmp: 'EACCES', signal: 'EPERM', next: 'ECONNRESET' });
      const again = JSON.parse(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: victim }))).Payload)) as { pid: number };
      assert.equal(again.pid, seen.pid, 'the warm victim answers its next invocation itself');
    } finally {
      for (const fn of [victim, spy]) await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: fn }));
    }
  });
});
