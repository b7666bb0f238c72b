import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { CreateFunctionCommand, GetFunctionCommand, InvokeCommand, LambdaClient, ListFunctionsCommand, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { streamMessageCount, uniqueName } from '@tributary/testing';
import { decode, functionInput, startE2eStack, type E2eStack } from './harness.js';

const WEBHOOK_TOKEN = 'webhook-token-for-tests';
const KEYS = { deploy: ['AKIDDEPLOY', 'deploy/secret+key'], ops: ['AKIDOPS', 'ops:secret'] } as const;

describe('the Lambda API and the bucket-notification API with API_CREDENTIALS: SigV4 signatures required', () => {
  let e2e: E2eStack;
  const clients: LambdaClient[] = [];
  const client = (accessKeyId: string, secretAccessKey: string, region = 'us-east-1') => {
    const made = new LambdaClient({ endpoint: e2e.stack.url('api'), region, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
    clients.push(made);
    return made;
  };
  const name = uniqueName('signed');

  before(async () => {
    // Functions get the ops key as their role's credentials: a handler's own SDK calls are signed with it.
    e2e = await startE2eStack({
      AWS_REGION: 'us-east-1',
      API_CREDENTIALS: `${KEYS.deploy.join(':')}, ${KEYS.ops.join(':')}`,
      FUNCTION_ACCESS_KEY_ID: KEYS.ops[0],
      FUNCTION_SECRET_ACCESS_KEY: KEYS.ops[1],
      // Required with API_CREDENTIALS: s3-ingest refuses to start with its webhook open.
      S3_INGEST_TOKEN: WEBHOOK_TOKEN,
      UNVERIFIED_BODY_BYTES: String(4 * 1024 * 1024),
    });
  });

  after(async () => {
    for (const made of clients) made.destroy();
    await e2e?.stop();
  });

  const refusal = async (call: Promise<unknown>) => {
    const error = (await call.then(() => assert.fail('the call was accepted'), (e: unknown) => e)) as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: error.name, status: error.$metadata?.httpStatusCode, message: error.message };
  };

  it('runs the calls a configured key signs, with either key', async () => {
    const deploy = client(...KEYS.deploy);
    await deploy.send(new CreateFunctionCommand(functionInput(name, 'exports.handler = async (event) => ({ got: event.size });')));
    const big = JSON.stringify({ size: 900_000, pad: 'x'.repeat(900_000) });
    const out = await client(...KEYS.ops).send(new InvokeCommand({ FunctionName: `arn:aws:lambda:us-east-1:000000000000:function:${name}`, Payload: Buffer.from(big) }));
    assert.deepEqual(JSON.parse(decode(out.Payload)), { got: 900_000 });
    assert.ok((await deploy.send(new ListFunctionsCommand({ MaxItems: 50 }))).Functions?.some((f) => f.FunctionName === name));
    // A streamed payload goes chunked, its body left out of the signature (UNSIGNED-PAYLOAD), as AWS takes it.
    const streamed = await deploy.send(new InvokeCommand({ FunctionName: name, Payload: Readable.from([Buffer.from('{"size": '), Buffer.from('5}')]) as unknown as Uint8Array }));
    assert.deepEqual(JSON.parse(decode(streamed.Payload)), { got: 5 });
  });

  it('presigns GetFunction\'s Code.Location, so a plain download of it works, and only of that URL', async () => {
    const { Code } = await client(...KEYS.ops).send(new GetFunctionCommand({ FunctionName: name }));
    const location = Code?.Location ?? '';
    assert.match(location, /\/code\?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDOPS%2F.*X-Amz-Expires=600/);
    const zip = await fetch(location);
    assert.equal(zip.status, 200);
    assert.equal(Buffer.from(await zip.arrayBuffer()).subarray(0, 2).toString(), 'PK');
    for (const [what, url] of [
      ['unsigned', location.split('?')[0] ?? ''],
      ['another function', location.replace(`/functions/${name}/`, '/functions/someone-else/')],
      ['a longer life', location.replace('X-Amz-Expires=600', 'X-Amz-Expires=6000')],
    ] as const) {
      const refused = await fetch(url);
      assert.equal(refused.status, 403, what);
    }
  });

  it('lets a handler invoke another function with the SDK as it comes, signed with its role\'s credentials', async () => {
    const caller = uniqueName('caller');
    const callerCode = `
const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
const lambda = new LambdaClient({});
exports.handler = async (event) => {
  const out = await lambda.send(new InvokeCommand({ FunctionName: event.target, Payload: JSON.stringify({ size: 7 }) }));
  return { via: process.env.AWS_ENDPOINT_URL_LAMBDA !== undefined, answer: JSON.parse(Buffer.from(out.Payload).toString()) };
};`;
    await client(...KEYS.deploy).send(new CreateFunctionCommand(functionInput(caller, callerCode)));
    const out = await client(...KEYS.deploy).send(new InvokeCommand({ FunctionName: caller, Payload: Buffer.from(JSON.stringify({ target: name })) }));
    assert.equal(out.FunctionError, undefined, decode(out.Payload));
    assert.deepEqual(JSON.parse(decode(out.Payload)), { via: true, answer: { got: 7 } });
  });

  it('refuses another secret, an unknown key and another region as AWS does, and nothing reaches NATS', async () => {
    const events = await streamMessageCount(e2e.env['EVENTS_STREAM'] ?? '');
    const wrongSecret = await refusal(client(KEYS.deploy[0], 'not-the-secret').send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: Buffer.from('{}') })));
    assert.equal(wrongSecret.name, 'InvalidSignatureException');
    assert.equal(wrongSecret.status, 403);
    assert.match(wrongSecret.message, /^The request signature we calculated does not match the signature you provided/);
    const unknown = await refusal(client('AKIDNOBODY', KEYS.deploy[1]).send(new GetFunctionCommand({ FunctionName: name })));
    assert.deepEqual([unknown.name, unknown.status, unknown.message], ['UnrecognizedClientException', 403, 'The security token included in the request is invalid.']);
    const elsewhere = await refusal(client(...KEYS.deploy, 'eu-west-1').send(new GetFunctionCommand({ FunctionName: name })));
    assert.deepEqual([elsewhere.name, elsewhere.status], ['InvalidSignatureException', 403]);
    assert.match(elsewhere.message, /Credential should be scoped to a valid region/);
    const other = uniqueName('unsigned');
    assert.equal((await refusal(client(KEYS.ops[0], 'wrong').send(new CreateFunctionCommand(functionInput(other, 'exports.handler = async () => 1;'))))).name, 'InvalidSignatureException');
    await assert.rejects(client(...KEYS.ops).send(new GetFunctionCommand({ FunctionName: other })), ResourceNotFoundException);
    assert.equal(await streamMessageCount(e2e.env['EVENTS_STREAM'] ?? ''), events);
  });

  it('answers an unsigned call MissingAuthenticationTokenException, and health and metrics unsigned', async () => {
    const api = e2e.stack.url('api');
    const unsigned = await fetch(`${api}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: '{}' });
    assert.equal(unsigned.status, 403);
    assert.equal(unsigned.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
    assert.deepEqual(await unsigned.json(), { Type: 'User', message: 'Missing Authentication Token' });
    const forged = await fetch(`${api}/2015-03-31/functions/${name}`, { headers: { authorization: 'Bearer let-me-in' } });
    assert.equal(forged.headers.get('x-amzn-errortype'), 'IncompleteSignatureException');
    // A date of digits that is no date is a malformed signature, not a 500.
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    const undated = await fetch(`${api}/2015-03-31/functions/`, {
      headers: { 'x-amz-date': `${today}T999999Z`, authorization: `AWS4-HMAC-SHA256 Credential=${KEYS.ops[0]}/${today}/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(64)}` },
    });
    assert.deepEqual([undated.status, undated.headers.get('x-amzn-errortype')], [400, 'IncompleteSignatureException']);
    // An unsigned body is answered without being kept, and the client sees the answer.
    const big = await fetch(`${api}/2015-03-31/functions`, { method: 'POST', body: Buffer.alloc(20 * 1024 * 1024, 32) });
    assert.deepEqual([big.status, big.headers.get('x-amzn-errortype')], [403, 'MissingAuthenticationTokenException']);
    assert.equal((await fetch(`${api}/health`)).status, 200);
    assert.equal((await fetch(`${api}/health`, { method: 'HEAD' })).status, 200);
    assert.match(await (await fetch(`${api}/metrics`)).text(), /# HELP/);
  });

  it('counts its refusals by reason on /metrics', async () => {
    const api = e2e.stack.url('api');
    const count = async (reason: string): Promise<number> => {
      const text = await (await fetch(`${api}/metrics`)).text();
      const line = new RegExp(`^tributary_signature_refusals_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)$`, 'm').exec(text);
      return Number(line?.[1] ?? Number.NaN);
    };
    const [missing, mismatch] = [await count('missing'), await count('mismatch')];
    assert.ok(Number.isInteger(missing) && Number.isInteger(mismatch), 'both reasons are on /metrics before any refusal of theirs');
    await fetch(`${api}/2015-03-31/functions/`);
    await fetch(`${api}/2015-03-31/functions/`);
    await refusal(client(KEYS.deploy[0], 'not-the-secret').send(new GetFunctionCommand({ FunctionName: name })));
    assert.deepEqual([await count('missing'), await count('mismatch')], [missing + 2, mismatch + 1]);
  });

  it('takes bucket notification configurations signed by a configured key only, and the webhook with its token', async () => {
    const store = (accessKeyId: string, secretAccessKey: string) =>
      new S3Client({ endpoint: e2e.stack.url('s3-ingest'), region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
    const signed = store(...KEYS.deploy);
    const forged = store(KEYS.deploy[0], 'not-the-secret');
    const stranger = store('AKIDNOBODY', 'x');
    try {
      const config = { LambdaFunctionConfigurations: [{ Id: 'all', LambdaFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`, Events: ['s3:ObjectCreated:*' as const] }] };
      await signed.send(new PutBucketNotificationConfigurationCommand({ Bucket: 'signed-bucket', NotificationConfiguration: config }));
      assert.equal((await signed.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'signed-bucket' }))).LambdaFunctionConfigurations?.[0]?.Id, 'all');
      for (const [client, code, status] of [
        [forged, 'SignatureDoesNotMatch', 403],
        [stranger, 'InvalidAccessKeyId', 403],
      ] as const) {
        const error = await client.send(new PutBucketNotificationConfigurationCommand({ Bucket: 'signed-bucket', NotificationConfiguration: {} })).then(() => undefined, (e: unknown) => e);
        assert.ok(error instanceof S3ServiceException, `${code}: accepted`);
        assert.deepEqual([error.name, error.$metadata.httpStatusCode], [code, status]);
      }
      // Signed, then its body changed on the way: the declared hash no longer matches it.
      const tampered = store(...KEYS.deploy);
      type Signed = { request: { body?: unknown } };
      const changeBody = (next: (args: Signed) => Promise<unknown>) => (args: Signed) => {
        args.request.body = String(args.request.body).replace('<Id>all</Id>', '<Id>bad</Id>');
        return next(args);
      };
      tampered.middlewareStack.addRelativeTo(changeBody as unknown as Parameters<typeof tampered.middlewareStack.addRelativeTo>[0], { relation: 'after', toMiddleware: 'httpSigningMiddleware' });
      const changed = await tampered.send(new PutBucketNotificationConfigurationCommand({ Bucket: 'signed-bucket', NotificationConfiguration: config })).then(() => undefined, (e: unknown) => e);
      tampered.destroy();
      assert.ok(changed instanceof S3ServiceException);
      assert.deepEqual([changed.name, changed.$metadata.httpStatusCode], ['XAmzContentSHA256Mismatch', 400]);
      const anonymous = await fetch(`${e2e.stack.url('s3-ingest')}/signed-bucket?notification`);
      assert.equal(anonymous.status, 403);
      assert.match(await anonymous.text(), /<Code>AccessDenied<\/Code>/);
      // The webhook's path is open to POST only: a bucket named `events` is configured signed, like any other.
      for (const method of ['PUT', 'GET']) {
        const named = await fetch(`${e2e.stack.url('s3-ingest')}/events?notification`, { method, ...(method === 'PUT' ? { body: '<NotificationConfiguration/>' } : {}) });
        assert.equal(named.status, 403, method);
      }
      // Refused writes changed nothing.
      const kept = (await signed.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'signed-bucket' }))).LambdaFunctionConfigurations;
      assert.deepEqual(kept?.map((c) => c.Id), ['all']);
      // The webhook is MinIO's, which cannot sign: it keeps its own bearer token.
      const test = JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent' });
      const webhook = (authorization?: string) => fetch(`${e2e.stack.url('s3-ingest')}/events`, { method: 'POST', body: test, ...(authorization ? { headers: { authorization } } : {}) });
      assert.equal((await webhook(`Bearer ${WEBHOOK_TOKEN}`)).status, 200);
      assert.equal((await webhook()).status, 401);
    } finally {
      for (const client of [signed, forged, stranger]) client.destroy();
    }
  });

  it('holds only so many bytes of bodies whose signature needs them, and answers the rest TooManyRequestsException', async () => {
    // Signed the way botocore signs (the body itself, no declared hash), so nothing can be
    // checked before the body is in; forged, with a known key id.
    const { port } = new URL(e2e.stack.url('api'));
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const size = 3 * 1024 * 1024;
    const head = [
      'POST /2015-03-31/functions HTTP/1.1',
      `Host: 127.0.0.1:${port}`,
      'Content-Type: application/json',
      `Content-Length: ${size}`,
      `X-Amz-Date: ${stamp}`,
      `Authorization: AWS4-HMAC-SHA256 Credential=${KEYS.ops[0]}/${stamp.slice(0, 8)}/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=${'f'.repeat(64)}`,
      'Connection: close',
      '',
      '',
    ].join('\r\n');
    const open = (): { socket: Socket; status: Promise<string> } => {
      const socket = connect(Number(port), '127.0.0.1');
      const status = new Promise<string>((resolve) => {
        let seen = '';
        socket.on('data', (d: Buffer) => (seen += d.toString()));
        socket.on('close', () => resolve(/^HTTP\/1\.1 (\d{3})[\s\S]*?x-amzn-errortype: (\S+)/i.exec(seen)?.slice(1, 3).join(' ') ?? seen.slice(0, 40)));
        socket.on('error', () => resolve('reset'));
      });
      return { socket, status };
    };
    const holding = open();
    holding.socket.write(head);
    holding.socket.write(Buffer.alloc(1024, 32));
    // The first is held (its headers are in); a second of the same size would pass the 4 MB budget.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = open();
    second.socket.end(Buffer.concat([Buffer.from(head), Buffer.alloc(size, 32)]));
    assert.equal(await second.status, '429 TooManyRequestsException');
    holding.socket.end(Buffer.alloc(size - 1024, 32));
    assert.equal(await holding.status, '403 InvalidSignatureException');
    // The budget is free again once the first has been answered.
    const third = open();
    third.socket.end(Buffer.concat([Buffer.from(head), Buffer.alloc(size, 32)]));
    assert.equal(await third.status, '403 InvalidSignatureException');
  });
});
