import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateFunctionCommand,
  GetFunctionCommand,
  InvalidParameterValueException,
  InvalidZipFileException,
  InvalidRequestContentException,
  InvokeCommand,
  LambdaClient,
  LambdaServiceException,
  RequestTooLargeException,
  ResourceConflictException,
  ServiceException,
  UnsupportedMediaTypeException,
  UpdateFunctionCodeCommand,
  type CreateFunctionCommandInput,
  type InvocationType,
} from '@aws-sdk/client-lambda';
import { request } from 'node:http';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { strToU8, zipSync } from 'fflate';
import { TEST_NATS_URL, buildZip, countRedisKeys, storedObjectCount, streamMessageCount, uniqueName, waitFor } from '@tributary/testing';
import { decode, encode, functionInput, startE2eStack, type E2eStack } from './harness.js';

const MODES = `
exports.handler = async (event) => {
  if (event.mode === 'throw') throw new RangeError('out of range: ' + event.n);
  // Busy until killed: a pending timer keeps the loop from emptying (an idle one would end it, as on AWS).
  if (event.mode === 'hang') return new Promise(() => { setInterval(() => {}, 1000); });
  if (event.mode === 'exit') process.exit(2);
  return { ok: true, n: event.n ?? null };
};`;

describe('failures and bad input, as the AWS SDK sees them', () => {
  let e2e: E2eStack;
  const name = uniqueName('modes');
  const ROLE = 'arn:aws:iam::000000000000:role/lambda-role';
  const base = (overrides: Partial<CreateFunctionCommandInput> = {}): CreateFunctionCommandInput => ({
    FunctionName: uniqueName('fn'),
    Runtime: 'nodejs20.x',
    Role: ROLE,
    Handler: 'index.handler',
    Code: { ZipFile: buildZip({ 'index.js': MODES }) },
    ...overrides,
  });

  before(async () => {
    e2e = await startE2eStack();
    await e2e.lambda.send(new CreateFunctionCommand(base({ FunctionName: name, Timeout: 1 })));
  });

  after(async () => e2e.stop());

  const invoke = (payload: unknown) => e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode(payload), LogType: 'Tail' }));

  it('answers a handler error, a timeout and a process exit in AWS shape, and runs the next call', async () => {
    const thrown = await invoke({ mode: 'throw', n: 7 });
    assert.equal(thrown.StatusCode, 200);
    assert.equal(thrown.FunctionError, 'Unhandled');
    const error = JSON.parse(decode(thrown.Payload));
    assert.equal(error.errorType, 'RangeError');
    assert.equal(error.errorMessage, 'out of range: 7');
    assert.ok(Array.isArray(error.trace) && error.trace[0].startsWith('RangeError: out of range: 7'));
    // The log says it as AWS's Node.js runtime does.
    assert.match(
      Buffer.from(thrown.LogResult ?? '', 'base64').toString(),
      /\t[0-9a-f-]{36}\tERROR\tInvoke Error \t\{"errorType":"RangeError","errorMessage":"out of range: 7","stack":\["RangeError: out of range: 7",/,
    );
    assert.deepEqual(JSON.parse(decode((await invoke({ n: 1 })).Payload)), { ok: true, n: 1 });

    const timedOut = await invoke({ mode: 'hang' });
    assert.equal(timedOut.FunctionError, 'Unhandled');
    const timeout = JSON.parse(decode(timedOut.Payload));
    assert.equal(timeout.errorType, 'Sandbox.Timedout');
    assert.match(timeout.errorMessage, /^RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds$/);
    assert.match(Buffer.from(timedOut.LogResult ?? '', 'base64').toString(), /\nREPORT RequestId: [0-9a-f-]{36}\t.*\tStatus: timeout\t\n$/);
    assert.deepEqual(JSON.parse(decode((await invoke({ n: 2 })).Payload)), { ok: true, n: 2 });

    const exited = await invoke({ mode: 'exit' });
    assert.equal(exited.FunctionError, 'Unhandled');
    const exit = JSON.parse(decode(exited.Payload));
    assert.equal(exit.errorType, 'Runtime.ExitError');
    assert.match(exit.errorMessage, /Runtime exited with error: exit status 2$/);
    assert.deepEqual(JSON.parse(decode((await invoke({ n: 3 })).Payload)), { ok: true, n: 3 });
  });

  it('reports a handler that cannot be loaded as AWS does', async () => {
    const missingModule = uniqueName('nomodule');
    await e2e.lambda.send(new CreateFunctionCommand(base({ FunctionName: missingModule, Handler: 'missing.handler' })));
    const a = await e2e.lambda.send(new InvokeCommand({ FunctionName: missingModule, LogType: 'Tail' }));
    assert.equal(a.FunctionError, 'Unhandled');
    assert.equal(JSON.parse(decode(a.Payload)).errorType, 'Runtime.ImportModuleError');
    assert.match(Buffer.from(a.LogResult ?? '', 'base64').toString(), /\tundefined\tERROR\tUncaught Exception \t\{"errorType":"Runtime.ImportModuleError"/);

    const missingExport = uniqueName('noexport');
    await e2e.lambda.send(new CreateFunctionCommand(base({ FunctionName: missingExport, Handler: 'index.nothing' })));
    const b = await e2e.lambda.send(new InvokeCommand({ FunctionName: missingExport }));
    assert.equal(JSON.parse(decode(b.Payload)).errorType, 'Runtime.HandlerNotFound');
    assert.equal(JSON.parse(decode(b.Payload)).errorMessage, 'index.nothing is undefined or not exported');
  });

  it('answers at once, with the error AWS gives, an invoke the platform cannot run, and keeps serving', async () => {
    // A package whose entries collide (a link, and a file below the same path): listed, it looks
    // fine and is accepted; unpacked by the worker, it cannot be.
    const colliding = uniqueName('collide');
    const link = (to: string): [Uint8Array, { os: number; attrs: number }] => [strToU8(to), { os: 3, attrs: (0o120777 << 16) >>> 0 }];
    const zip = zipSync({ 'lib/x.js': strToU8('x'), lib: link('.'), 'index.js': strToU8(MODES) });
    // A timeout long enough that a caller left waiting would be told it was throttled, not why.
    await e2e.lambda.send(new CreateFunctionCommand(base({ FunctionName: colliding, Timeout: 30, Code: { ZipFile: zip } })));
    const unzip = await e2e.lambda.send(new InvokeCommand({ FunctionName: colliding })).catch((error: unknown) => error);
    assert.ok(unzip instanceof InvalidZipFileException, String(unzip));
    assert.equal(unzip.$metadata.httpStatusCode, 502);
    assert.match(unzip.message, /unzip the deployment package/);

    // The code store lost a package (removed by hand, a lost volume): the platform's fault.
    const lost = uniqueName('lost');
    await e2e.lambda.send(new CreateFunctionCommand(base({ FunctionName: lost, Timeout: 30, Code: { ZipFile: buildZip({ 'index.js': `${MODES}\n// ${lost}` }) } })));
    const { Configuration } = await e2e.lambda.send(new GetFunctionCommand({ FunctionName: lost }));
    const nc = await connect({ servers: TEST_NATS_URL });
    try {
      const store = await new Objm(nc).open(e2e.env['CODE_STORE'] ?? '');
      assert.ok(await store.delete(Buffer.from(Configuration?.CodeSha256 ?? '', 'base64').toString('hex')));
    } finally {
      await nc.close();
    }
    const missing = await e2e.lambda.send(new InvokeCommand({ FunctionName: lost })).catch((error: unknown) => error);
    assert.ok(missing instanceof ServiceException, String(missing));
    assert.equal(missing.$metadata.httpStatusCode, 500);

    // Deployed again, both run.
    for (const fn of [colliding, lost]) {
      await e2e.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: fn, ZipFile: buildZip({ 'index.js': MODES }) }));
      assert.deepEqual(JSON.parse(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: fn, Payload: encode({ n: 4 }) }))).Payload)), { ok: true, n: 4 });
    }
  });

  it('refuses bad input with the AWS error class and lets nothing reach NATS or Redis', async () => {
    const messagesBefore = await streamMessageCount(e2e.env['EVENTS_STREAM'] ?? '');
    const keysBefore = await countRedisKeys(`${e2e.env['QUEUE_PREFIX']}:*`);

    const validation = async (input: CreateFunctionCommandInput, member: string) => {
      const error = await e2e.lambda.send(new CreateFunctionCommand(input)).then(
        () => assert.fail('expected a ValidationException'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof LambdaServiceException);
      assert.equal(error.name, 'ValidationException');
      assert.equal(error.$metadata.httpStatusCode, 400);
      assert.match(error.message, new RegExp(`at '${member}' failed to satisfy constraint`));
    };
    await validation(base({ FunctionName: 'not a valid name!' }), 'functionName');
    await validation(base({ Runtime: 'cobol85' as never }), 'runtime');
    await validation(base({ Timeout: 901 }), 'timeout');
    await validation(base({ Timeout: 0 }), 'timeout');
    await validation(base({ MemorySize: 64 }), 'memorySize');
    await validation(base({ MemorySize: 10_241 }), 'memorySize');

    await assert.rejects(
      e2e.lambda.send(new CreateFunctionCommand(base({ Code: { ZipFile: Buffer.from('this is not a zip file') } }))),
      (e: unknown) => e instanceof InvalidParameterValueException && /Could not unzip/.test(e.message),
    );
    // An archive with nothing in it, in AWS's words.
    await assert.rejects(
      e2e.lambda.send(new CreateFunctionCommand(base({ Code: { ZipFile: zipSync({}) } }))),
      (e: unknown) => e instanceof InvalidParameterValueException && e.message === 'Uploaded file must be a non-empty zip',
    );
    await assert.rejects(e2e.lambda.send(new CreateFunctionCommand(base({ Runtime: 'python3.12' }))), InvalidParameterValueException);
    // The newest values of the model's Runtime enum are known (not a ValidationException), if not run here.
    await assert.rejects(e2e.lambda.send(new CreateFunctionCommand(base({ Runtime: 'ruby4.0' as never }))), InvalidParameterValueException);
    // Just under AWS's 50 MB zip limit the request fits the body limit (and is then no zip)…
    await assert.rejects(
      e2e.lambda.send(new CreateFunctionCommand(base({ Code: { ZipFile: Buffer.alloc(52_428_700, 7) } }))),
      (e: unknown) => e instanceof InvalidParameterValueException && /Could not unzip/.test(e.message),
    );
    // …and a request over it is answered, not cut off while the SDK still sends it.
    await assert.rejects(
      e2e.lambda.send(new CreateFunctionCommand(base({ Code: { ZipFile: Buffer.alloc(53_000_000, 7) } }))),
      (e: unknown) => (e as Error).name === 'RequestEntityTooLargeException' && (e as Error).message === 'Request must be smaller than 70167211 bytes for the CreateFunction operation',
    );
    await assert.rejects(e2e.lambda.send(new CreateFunctionCommand(base({ FunctionName: name }))), ResourceConflictException);

    await assert.rejects(
      e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.alloc(6 * 1024 * 1024 + 1, 0x20) })),
      RequestTooLargeException,
    );
    await assert.rejects(
      e2e.lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: Buffer.alloc(1024 * 1024 + 1, 0x20) })),
      (error: unknown) =>
        error instanceof RequestTooLargeException && error.message === '1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)',
    );
    // Far over the limit (and the answer still reaches the SDK rather than a reset).
    await assert.rejects(
      e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.alloc(20 * 1024 * 1024, 0x20) })),
      RequestTooLargeException,
    );
    await assert.rejects(
      e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{"not": json') })),
      InvalidRequestContentException,
    );

    // A Content-Type that is not a media type, which Fastify refuses before any route runs (it was
    // answered 500): the class the model gives Invoke, sent by an SDK whose header was replaced.
    for (const type of ['', 'json']) {
      const client = new LambdaClient({ endpoint: e2e.stack.url('api'), region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
      client.middlewareStack.add(
        (next) => (args) => {
          (args.request as { headers: Record<string, string> }).headers['content-type'] = type;
          return next(args);
        },
        { step: 'build' },
      );
      try {
        await assert.rejects(
          client.send(new InvokeCommand({ FunctionName: name, Payload: encode({}) })),
          (e: unknown) =>
            e instanceof UnsupportedMediaTypeException && e.$metadata.httpStatusCode === 415 && e.message === `Content-Type '${type}' is not a media type (type/subtype, such as application/json)`,
        );
      } finally {
        client.destroy();
      }
    }

    assert.equal(await streamMessageCount(e2e.env['EVENTS_STREAM'] ?? ''), messagesBefore);
    assert.equal(await countRedisKeys(`${e2e.env['QUEUE_PREFIX']}:*`), keysBefore);
    // The service keeps serving after all that.
    assert.deepEqual(JSON.parse(decode((await invoke({ n: 9 })).Payload)), { ok: true, n: 9 });
  });

  it('holds no more of a chunked invoke body than the payload limit, and answers it as AWS does', async () => {
    // Without a Content-Length the size is only known as the body arrives; the service's own
    // body limit (about 70 MB, sized for CreateFunction) must not be what decides.
    const send = (chunks: number, chunk: Buffer, invocationType = 'RequestResponse') =>
      new Promise<{ status: number; errorType: string | undefined; body: string }>((resolve, reject) => {
        const req = request(`${e2e.stack.url('api')}/2015-03-31/functions/${name}/invocations`, {
          method: 'POST',
          headers: { 'transfer-encoding': 'chunked', 'x-amz-invocation-type': invocationType },
        });
        req.on('response', (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, errorType: res.headers['x-amzn-errortype'] as string | undefined, body: Buffer.concat(parts).toString() }));
        });
        req.on('error', reject);
        void (async () => {
          for (let i = 0; i < chunks; i++) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
          req.end();
        })();
      });
    const spaces = Buffer.alloc(1024 * 1024, 0x20);
    const farOver = await send(72, spaces);
    assert.equal(farOver.status, 413);
    assert.equal(farOver.errorType, 'RequestTooLargeException');
    assert.match(JSON.parse(farOver.body).message, /Request must be smaller than 6291456 bytes for the InvokeFunction operation/);
    const justOver = await send(7, spaces);
    assert.equal(justOver.errorType, 'RequestTooLargeException');
    // A chunked body within the limit runs.
    const small = await send(1, Buffer.from(JSON.stringify({ n: 5 })));
    assert.equal(small.status, 200);
    assert.deepEqual(JSON.parse(small.body), { ok: true, n: 5 });
  });

  it('takes hostile input at every edge without a service going down', async () => {
    const nc = await connect({ servers: TEST_NATS_URL.replace(/^nats:\/\//, '') });
    try {
      // A work announcement for a name no queue may have (BullMQ refuses ':').
      nc.publish(`${e2e.env['SUBJECT_PREFIX']}.work.a:b`);
      // An invoke event whose id cannot be a request id, published straight on the stream.
      const js = jetstream(nc);
      await js.publish(`${e2e.env['EVENTS_SUBJECT_ROOT']}.invoke.${name}`, JSON.stringify({
        specversion: '1.0', id: 'bad:id\n日', source: 'test', type: 'invoke', time: new Date().toISOString(), targetfunction: name,
        qualifier: '$LATEST', invocationtype: 'Event', logtype: 'None', functionrevision: 1, data: {},
      }));
      await nc.flush();
    } finally {
      await nc.close();
    }
    // A client context that is not base64 JSON is refused as AWS refuses it…
    await assert.rejects(
      e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({}), ClientContext: 'hello' })),
      (e: unknown) => e instanceof InvalidRequestContentException,
    );
    // …one with text outside Latin-1 reaches the handler intact.
    const context = Buffer.from(JSON.stringify({ custom: { city: 'Zürich 東京' } })).toString('base64');
    const withContext = await e2e.lambda.send(
      new CreateFunctionCommand(base({ Code: { ZipFile: buildZip({ 'index.js': 'exports.handler = async (e, c) => c.clientContext.custom.city;' }) } })),
    );
    const city = await e2e.lambda.send(new InvokeCommand({ FunctionName: withContext.FunctionName, Payload: encode({}), ClientContext: context }));
    assert.equal(JSON.parse(decode(city.Payload)), 'Zürich 東京');
    // An invocation type that is not one adds no metric series of its own.
    await assert.rejects(e2e.lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Bogus' as InvocationType })));
    const metrics = await (await fetch(`${e2e.stack.url('api')}/metrics`)).text();
    assert.ok(!metrics.includes('Bogus'));
    // Every service still serves: a function never invoked before is attached to and runs.
    const fresh = await e2e.lambda.send(new CreateFunctionCommand(base()));
    assert.deepEqual(JSON.parse(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: fresh.FunctionName, Payload: encode({ n: 7 }) }))).Payload)), { ok: true, n: 7 });
  });

  it('carries payloads larger than a NATS message through the claim check', async () => {
    const big = 'x'.repeat(2 * 1024 * 1024);
    const echo = uniqueName('echo');
    await e2e.lambda.send(
      new CreateFunctionCommand(base({ FunctionName: echo, Code: { ZipFile: buildZip({ 'index.js': 'exports.handler = async (e) => ({ len: e.big.length, back: e.big });' }) } })),
    );
    const payloads = e2e.env['PAYLOAD_STORE'] ?? '';
    const storedBefore = await storedObjectCount(payloads);
    const result = await e2e.lambda.send(new InvokeCommand({ FunctionName: echo, Payload: encode({ big }) }));
    const body = JSON.parse(decode(result.Payload));
    assert.equal(body.len, big.length);
    assert.equal(body.back, big);
    // Both the request and the result went by claim check; once answered, neither is kept
    // (until the store's 7-day expiry that would be 4 MB of disk for every such call).
    await waitFor('the claim-checked request and result to be removed', async () => (await storedObjectCount(payloads)) === storedBefore);
  });
});

describe('results and logs near the size of a NATS message', () => {
  let e2e: E2eStack;

  // The largest inline limit allowed (900 KB), under the NATS server's default 1 MB max_payload.
  before(async () => (e2e = await startE2eStack({ INLINE_PAYLOAD_BYTES: String(900 * 1024) })));
  after(async () => e2e.stop());

  it('answers a result whose escaped form outgrows a message, and a function that logs more than a message holds', async () => {
    const name = uniqueName('escaped');
    // 300,000 quotes: 600 KB of JSON, but twice that once the reply carries it as a string.
    await e2e.lambda.send(
      new CreateFunctionCommand(
        functionInput(name, `exports.handler = async (e) => { if (e.log) console.log('y'.repeat(2 * 1024 * 1024)); return '"'.repeat(300000); };`),
      ),
    );
    const quoted = await e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({}) }));
    assert.equal(quoted.FunctionError, undefined);
    assert.equal(JSON.parse(decode(quoted.Payload)), '"'.repeat(300000));
    // 2 MB of log in one invocation: the log is cut to fit, the worker keeps serving.
    const logged = await e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({ log: true }), LogType: 'Tail' }));
    assert.equal(logged.FunctionError, undefined);
    assert.match(Buffer.from(logged.LogResult ?? '', 'base64').toString(), /REPORT RequestId/);
    const again = await e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({}) }));
    assert.equal(JSON.parse(decode(again.Payload)).length, 300000);
  });
});
