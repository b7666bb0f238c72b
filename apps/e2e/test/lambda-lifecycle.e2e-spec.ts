import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  InvalidParameterValueException,
  InvokeCommand,
  ListFunctionsCommand,
  ListTagsCommand,
  ResourceNotFoundException,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  paginateListFunctions,
} from '@aws-sdk/client-lambda';
import { CallbackListener, buildZip, uniqueName, waitFor } from '@tributary/testing';
import { decode, encode, functionInput, startE2eStack, type E2eStack } from './harness.js';

const handler = (version: string) => `
const http = require('node:http');
exports.handler = async (event, context) => {
  console.log('handling', JSON.stringify(event));
  if (event.callback) {
    await new Promise((resolve, reject) => {
      const req = http.request(event.callback, { method: 'POST' }, (res) => { res.resume(); res.on('end', resolve); });
      req.on('error', reject);
      req.end(JSON.stringify({ version: '${version}', requestId: context.awsRequestId, event }));
    });
  }
  return { version: '${version}', echo: event, greeting: process.env.GREETING ?? null };
};`;

/** The value of one Prometheus sample whose labels include `labels`, or undefined. */
const sample = (text: string, metric: string, labels: Record<string, string>): number | undefined => {
  for (const line of text.split('\n')) {
    const match = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== metric) continue;
    const has = Object.entries(labels).every(([k, v]) => (match[2] ?? '').split(',').includes(`${k}="${v}"`));
    if (has) return Number(match[3]);
  }
  return undefined;
};

describe('a function through the whole pipeline, driven by @aws-sdk/client-lambda', () => {
  let e2e: E2eStack;
  let callbacks: CallbackListener;
  const name = uniqueName('lifecycle');

  before(async () => {
    e2e = await startE2eStack();
    callbacks = await CallbackListener.start();
  });

  after(async () => {
    await callbacks.close();
    await e2e.stop();
  });

  it('creates, invokes (sync, async, dry run), updates and deletes a function', async () => {
    const created = await e2e.lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs20.x',
        Role: 'arn:aws:iam::000000000000:role/lambda-role',
        Handler: 'index.handler',
        Code: { ZipFile: buildZip({ 'index.js': handler('v1') }) },
        Environment: { Variables: { GREETING: 'hello' } },
      }),
    );
    assert.equal(created.State, 'Active');
    assert.equal(created.FunctionArn, `arn:aws:lambda:us-east-1:000000000000:function:${name}`);
    assert.equal(created.Timeout, 3);
    assert.equal(created.MemorySize, 128);
    assert.match(created.CodeSha256 ?? '', /^[A-Za-z0-9+/]{43}=$/);

    const fetched = await e2e.lambda.send(new GetFunctionCommand({ FunctionName: name }));
    assert.equal(fetched.Configuration?.Handler, 'index.handler');
    // Code.Location is a URL that serves the deployment package, as on AWS.
    const download = await fetch(fetched.Code?.Location ?? 'missing:');
    const zipped = Buffer.from(await download.arrayBuffer());
    assert.equal(createHash('sha256').update(zipped).digest('base64'), created.CodeSha256);
    const listed = await e2e.lambda.send(new ListFunctionsCommand({}));
    assert.ok(listed.Functions?.some((f) => f.FunctionName === name));

    const sync = await e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({ hello: 'world' }), LogType: 'Tail' }));
    assert.equal(sync.StatusCode, 200);
    assert.equal(sync.FunctionError, undefined);
    assert.equal(sync.ExecutedVersion, '$LATEST');
    assert.deepEqual(JSON.parse(decode(sync.Payload)), { version: 'v1', echo: { hello: 'world' }, greeting: 'hello' });
    const log = Buffer.from(sync.LogResult ?? '', 'base64').toString();
    assert.match(log, /START RequestId: /);
    assert.match(log, /handling \{"hello":"world"\}/);
    assert.match(log, /REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB/);

    const asyncCall = await e2e.lambda.send(
      new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: encode({ callback: `${callbacks.url}/async`, n: 1 }) }),
    );
    assert.equal(asyncCall.StatusCode, 202);
    const [arrived] = await callbacks.waitForCount(1);
    assert.deepEqual(JSON.parse(arrived?.body ?? '{}').event, { callback: `${callbacks.url}/async`, n: 1 });

    const dry = await e2e.lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'DryRun' }));
    assert.equal(dry.StatusCode, 204);

    // The worker's Prometheus metrics count this function's invocations (one cold, one warm).
    const metrics = await waitFor('the async invocation to be counted', async () => {
      const text = await (await fetch(`${e2e.stack.url('worker')}/metrics`)).text();
      return sample(text, 'tributary_worker_invocations_total', { function: name, function_error: 'false', cold: 'false' }) === 1 ? text : undefined;
    });
    assert.equal(sample(metrics, 'tributary_worker_invocations_total', { function: name, function_error: 'false', cold: 'true' }), 1);
    assert.equal(sample(metrics, 'tributary_worker_invocation_duration_seconds_count', { function: name }), 2);
    assert.equal(sample(metrics, 'tributary_worker_running_invocations', { function: name }), 0);

    const updated = await e2e.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: buildZip({ 'index.js': handler('v2') }) }));
    assert.equal(updated.LastUpdateStatus, 'Successful');
    assert.notEqual(updated.CodeSha256, created.CodeSha256);
    const afterUpdate = await e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({}) }));
    assert.equal(JSON.parse(decode(afterUpdate.Payload)).version, 'v2');

    const reconfigured = await e2e.lambda.send(
      new UpdateFunctionConfigurationCommand({ FunctionName: name, Timeout: 10, MemorySize: 256, Environment: { Variables: { GREETING: 'bonjour' } }, Description: 'second' }),
    );
    assert.equal(reconfigured.Timeout, 10);
    const config = await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    assert.equal(config.MemorySize, 256);
    assert.equal(config.Description, 'second');
    const afterConfig = await e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({}), LogType: 'Tail' }));
    assert.equal(JSON.parse(decode(afterConfig.Payload)).greeting, 'bonjour');
    assert.match(Buffer.from(afterConfig.LogResult ?? '', 'base64').toString(), /Memory Size: 256 MB/);

    await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
    await assert.rejects(e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({}) })), ResourceNotFoundException);
    await assert.rejects(e2e.lambda.send(new GetFunctionCommand({ FunctionName: name })), ResourceNotFoundException);
  });

  it('keeps tags given at creation and changed with TagResource and UntagResource', async () => {
    // A name of 64 characters, the longest AWS allows: its ARN is longer than a router's default limit.
    const tagged = uniqueName('tagged').padEnd(64, 'x');
    const created = await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(tagged, handler('t'), { Tags: { team: 'core', stage: 'dev' } })),
    );
    const arn = created.FunctionArn ?? '';
    assert.deepEqual((await e2e.lambda.send(new GetFunctionCommand({ FunctionName: tagged }))).Tags, { team: 'core', stage: 'dev' });
    await e2e.lambda.send(new TagResourceCommand({ Resource: arn, Tags: { stage: 'prod', owner: 'ada' } }));
    await e2e.lambda.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['team', 'absent'] }));
    assert.deepEqual((await e2e.lambda.send(new ListTagsCommand({ Resource: arn }))).Tags, { stage: 'prod', owner: 'ada' });
    // Tags are no change of code or configuration.
    assert.equal((await e2e.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: tagged }))).RevisionId, created.RevisionId);
    await assert.rejects(e2e.lambda.send(new TagResourceCommand({ Resource: arn, Tags: { 'aws:reserved': 'x' } })), InvalidParameterValueException);
    await assert.rejects(
      e2e.lambda.send(new ListTagsCommand({ Resource: 'arn:aws:lambda:us-east-1:000000000000:function:nobody-here' })),
      ResourceNotFoundException,
    );
    // The resource is an ARN, as on AWS: a bare name is refused by each operation, and changes nothing.
    for (const call of [
      () => e2e.lambda.send(new ListTagsCommand({ Resource: tagged })),
      () => e2e.lambda.send(new TagResourceCommand({ Resource: tagged, Tags: { by: 'name' } })),
      () => e2e.lambda.send(new UntagResourceCommand({ Resource: tagged, TagKeys: ['stage'] })),
    ]) {
      await assert.rejects(call(), (e: Error) =>
        e.name === 'ValidationException' && /^1 validation error detected: Value '.+' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:/.test(e.message),
      );
    }
    // Tags are the function's: an ARN naming a version or alias of it ($LATEST too) is refused.
    for (const call of [
      () => e2e.lambda.send(new ListTagsCommand({ Resource: `${arn}:$LATEST` })),
      () => e2e.lambda.send(new TagResourceCommand({ Resource: `${arn}:$LATEST`, Tags: { by: 'version' } })),
      () => e2e.lambda.send(new UntagResourceCommand({ Resource: `${arn}:live`, TagKeys: ['stage'] })),
    ]) {
      await assert.rejects(call(), (e: Error) =>
        e instanceof InvalidParameterValueException && e.message === 'Tags on function aliases and versions are not supported. Please specify a function ARN.',
      );
    }
    assert.deepEqual((await e2e.lambda.send(new ListTagsCommand({ Resource: arn }))).Tags, { stage: 'prod', owner: 'ada' });
    // With none left, GetFunction leaves Tags out, as AWS does (ListTags still answers a map).
    await e2e.lambda.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['stage', 'owner'] }));
    assert.equal((await e2e.lambda.send(new GetFunctionCommand({ FunctionName: tagged }))).Tags, undefined);
    assert.deepEqual((await e2e.lambda.send(new ListTagsCommand({ Resource: arn }))).Tags, {});
  });

  it('pages through ListFunctions', async () => {
    const prefix = uniqueName('page');
    const zip = buildZip({ 'index.js': handler('p') });
    for (let i = 0; i < 3; i += 1) {
      await e2e.lambda.send(new CreateFunctionCommand(functionInput(`${prefix}-${i}`, zip)));
    }
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await e2e.lambda.send(new ListFunctionsCommand({ MaxItems: 2, Marker: marker }));
      assert.ok((page.Functions?.length ?? 0) <= 2);
      seen.push(...(page.Functions ?? []).map((f) => f.FunctionName ?? ''));
      marker = page.NextMarker;
    } while (marker);
    assert.deepEqual(seen.filter((n) => n.startsWith(prefix)), [`${prefix}-0`, `${prefix}-1`, `${prefix}-2`]);
  });

  it('pages through every function once, whatever the case and punctuation of their names', async () => {
    // Orders that disagree on these (a locale's, a case-blind one) once made pages skip functions.
    const prefix = uniqueName('mix');
    const names = ['-a', '-B', '-c', '_d', '-e', 'Z', 'a', '_', '-'].map((suffix) => `${prefix}${suffix}`);
    const zip = buildZip({ 'index.js': handler('m') });
    for (const name of names) await e2e.lambda.send(new CreateFunctionCommand(functionInput(name, zip)));
    for (const pageSize of [1, 2, 4]) {
      const seen: string[] = [];
      for await (const page of paginateListFunctions({ client: e2e.lambda, pageSize }, {})) {
        seen.push(...(page.Functions ?? []).map((f) => f.FunctionName ?? '').filter((n) => n.startsWith(prefix)));
      }
      assert.deepEqual(seen, [...names].sort(), `pages of ${pageSize}`);
    }
  });
});
