import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateFunctionCommand,
  InvokeWithResponseStreamCommand,
  ResourceNotFoundException,
  type InvokeWithResponseStreamCommandInput,
  type InvokeWithResponseStreamCompleteEvent,
} from '@aws-sdk/client-lambda';
import { createHash } from 'node:crypto';
import { CallbackListener, startGate, uniqueName, waitFor } from '@tributary/testing';
import { encode, functionInput, startE2eStack, type E2eStack } from './harness.js';

/** Everything an InvokeWithResponseStream answer carries, read the way SDK users read it. */
const streamed = async (e2e: E2eStack, input: InvokeWithResponseStreamCommandInput) => {
  const output = await e2e.lambda.send(new InvokeWithResponseStreamCommand(input));
  const chunks: Buffer[] = [];
  const completes: InvokeWithResponseStreamCompleteEvent[] = [];
  for await (const event of output.EventStream ?? []) {
    if (event.PayloadChunk?.Payload) chunks.push(Buffer.from(event.PayloadChunk.Payload));
    if (event.InvokeComplete) completes.push(event.InvokeComplete);
  }
  return { output, payload: Buffer.concat(chunks), completes };
};

describe('InvokeWithResponseStream with the AWS SDK', () => {
  let e2e: E2eStack;
  const streaming = uniqueName('stream');
  const plain = uniqueName('plainstream');
  const failing = uniqueName('failstream');
  const gated = uniqueName('gatedstream');
  const hanging = uniqueName('hangstream');
  const bulk = uniqueName('bulkstream');

  before(async () => {
    e2e = await startE2eStack({ AWS_REGION: 'us-east-1', TRIBUTARY_ACCOUNT_ID: '000000000000' });
    await e2e.lambda.send(
      new CreateFunctionCommand(
        functionInput(
          streaming,
          `exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
            console.log('streaming', event.parts);
            responseStream.setContentType('text/plain');
            for (const part of event.parts) responseStream.write(part);
            responseStream.end(Buffer.from([0xff, 0x00, 0x80]));
          });`,
        ),
      ),
    );
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(plain, 'exports.handler = async (event) => ({ echo: event });')));
    await e2e.lambda.send(
      new CreateFunctionCommand(
        functionInput(failing, `exports.handler = awslambda.streamifyResponse(async () => { throw new TypeError('no stream today'); });`),
      ),
    );
    await e2e.lambda.send(
      new CreateFunctionCommand(
        functionInput(
          gated,
          `exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
            responseStream.write('first ');
            await (await fetch(event.gate)).text();
            if (event.fail) throw new TypeError('after the first bytes');
            responseStream.end('second');
          });`,
          { Timeout: 10 },
        ),
      ),
    );
    await e2e.lambda.send(
      new CreateFunctionCommand(
        functionInput(hanging, `exports.handler = awslambda.streamifyResponse(async (event, responseStream) => { responseStream.write('before the hang'); await new Promise(() => setInterval(() => {}, 1000)); });`, { Timeout: 1 }),
      ),
    );
    // Writes event.mb megabytes as a well-behaved writer does (waiting for 'drain'), and says how far it has got.
    await e2e.lambda.send(
      new CreateFunctionCommand(
        functionInput(
          bulk,
          `exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
            const report = (path) => fetch(event.progress + path, { method: 'POST' });
            for (let i = 0; i < event.mb; i++) {
              if (!responseStream.write(Buffer.alloc(1024 * 1024, i % 256))) await new Promise((resolve) => responseStream.once('drain', resolve));
              await report('/mb/' + (i + 1));
            }
            responseStream.end();
            await report('/done');
          });`,
          { Timeout: 120, MemorySize: 512 },
        ),
      ),
    );
  });

  after(async () => e2e?.stop());

  it("answers a streaming handler's bytes as payload chunks, then InvokeComplete", async () => {
    const { output, payload, completes } = await streamed(e2e, { FunctionName: streaming, Payload: Buffer.from(JSON.stringify({ parts: ['hello ', 'world'] })) });
    assert.equal(output.StatusCode, 200);
    assert.equal(output.ExecutedVersion, '$LATEST');
    assert.ok(payload.equals(Buffer.concat([Buffer.from('hello world'), Buffer.from([0xff, 0x00, 0x80])])), `got ${payload.toString('hex')}`);
    assert.equal(completes.length, 1);
    assert.equal(completes[0]?.ErrorCode, undefined);
    assert.equal(completes[0]?.LogResult, undefined);
  });

  it("sends a streaming handler's bytes as it writes them, and a later error as the stream's end", async () => {
    for (const fail of [false, true]) {
      // The handler writes, then waits at a gate that this test opens only when those first bytes
      // have reached it through the SDK: sent whole at the end, they would never come, and the
      // function would time out at the gate.
      const gate = await startGate();
      try {
        const output = await e2e.lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: gated, Payload: Buffer.from(JSON.stringify({ gate: gate.url, fail })) }));
        assert.equal(output.StatusCode, 200);
        assert.equal(output.ExecutedVersion, '$LATEST');
        assert.match(output.$metadata.requestId ?? '', /^[0-9a-f-]{36}$/);
        const chunks: string[] = [];
        const completes: InvokeWithResponseStreamCompleteEvent[] = [];
        for await (const event of output.EventStream ?? []) {
          if (event.PayloadChunk?.Payload) {
            chunks.push(Buffer.from(event.PayloadChunk.Payload).toString('utf8'));
            gate.open();
          }
          if (event.InvokeComplete) completes.push(event.InvokeComplete);
        }
        assert.equal(completes.length, 1);
        if (fail) {
          assert.equal(chunks.join(''), 'first ');
          assert.equal(completes[0]?.ErrorCode, 'TypeError');
          assert.match(completes[0]?.ErrorDetails ?? '', /after the first bytes/);
        } else {
          assert.equal(chunks.join(''), 'first second');
          assert.equal(completes[0]?.ErrorCode, undefined);
        }
      } finally {
        await gate.close();
      }
    }
  });

  it('ends a stream whose function times out with Sandbox.Timedout, after the bytes it sent', async () => {
    const { output, payload, completes } = await streamed(e2e, { FunctionName: hanging });
    assert.equal(output.StatusCode, 200);
    assert.equal(payload.toString('utf8'), 'before the hang');
    assert.equal(completes.length, 1);
    assert.equal(completes[0]?.ErrorCode, 'Sandbox.Timedout');
    assert.match(completes[0]?.ErrorDetails ?? '', /Task timed out after 1\.00 seconds/);
  });

  it('carries the Tail log in InvokeComplete', async () => {
    const { completes } = await streamed(e2e, { FunctionName: streaming, LogType: 'Tail', Payload: Buffer.from(JSON.stringify({ parts: ['x'] })) });
    const log = Buffer.from(completes[0]?.LogResult ?? '', 'base64').toString('utf8');
    assert.match(log, /streaming \[ 'x' \]/);
    assert.match(log, /^REPORT RequestId: /m);
  });

  it('answers a handler that does not stream with its whole JSON result', async () => {
    const { payload, completes } = await streamed(e2e, { FunctionName: plain, Payload: Buffer.from('{"n":1}') });
    assert.deepEqual(JSON.parse(payload.toString('utf8')), { echo: { n: 1 } });
    assert.equal(completes.length, 1);
  });

  it("ends with the function's error in InvokeComplete, not with an HTTP error", async () => {
    const { output, payload, completes } = await streamed(e2e, { FunctionName: failing });
    assert.equal(output.StatusCode, 200);
    assert.equal(payload.byteLength, 0);
    assert.equal(completes[0]?.ErrorCode, 'TypeError');
    assert.match(completes[0]?.ErrorDetails ?? '', /no stream today/);
  });

  it('refuses what AWS refuses, and runs nothing for DryRun', async () => {
    await assert.rejects(e2e.lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: uniqueName('missing') })), ResourceNotFoundException);
    await assert.rejects(
      // Event is not one of this operation's invocation types.
      e2e.lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: plain, InvocationType: 'Event' as 'DryRun' })),
      (error: Error) => error.name === 'ValidationException' && /invocationType/.test(error.message),
    );
    const dry = await e2e.lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: plain, InvocationType: 'DryRun' }));
    assert.equal(dry.StatusCode, 204);
  });

  /** Megabytes the bulk function says it has written, and whether it has returned. */
  const progressOf = (progress: CallbackListener) => ({
    mb: Math.max(0, ...progress.received.map((r) => Number(/^\/mb\/(\d+)$/.exec(r.path)?.[1] ?? 0))),
    done: progress.received.some((r) => r.path === '/done'),
  });

  it('holds a streaming function back while its caller does not read, and loses nothing of what it wrote', async () => {
    const progress = await CallbackListener.start();
    try {
      const total = 64;
      const output = await e2e.lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: bulk, Payload: encode({ mb: total, progress: progress.url }) }));
      assert.ok(output.EventStream);
      const events = output.EventStream[Symbol.asyncIterator]();
      const hash = createHash('sha256');
      let bytes = 0;
      const take = (payload: Uint8Array | undefined): void => {
        hash.update(payload ?? new Uint8Array());
        bytes += payload?.byteLength ?? 0;
      };
      const first = await events.next();
      take(first.done ? undefined : first.value.PayloadChunk?.Payload);
      // The caller reads nothing more for now: the function gets only as far as what lies in
      // buffers on the way (sockets, the API's stream, the window), and stays there.
      let seen = -1;
      const held = await waitFor(
        'the function to stop getting further',
        () => {
          const now = progressOf(progress).mb;
          const still = now === seen;
          seen = now;
          return still && now > 0 ? now : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 1_000 },
      );
      assert.ok(held < total / 2, `the function wrote ${held} MB of ${total} while nobody read them`);
      assert.equal(progressOf(progress).done, false);
      let complete = 0;
      for (let next = await events.next(); !next.done; next = await events.next()) {
        take(next.value.PayloadChunk?.Payload);
        if (next.value.InvokeComplete) {
          complete += 1;
          assert.equal(next.value.InvokeComplete.ErrorCode, undefined);
        }
      }
      assert.equal(complete, 1);
      assert.equal(bytes, total * 1024 * 1024);
      const expected = createHash('sha256');
      for (let i = 0; i < total; i++) expected.update(Buffer.alloc(1024 * 1024, i % 256));
      assert.equal(hash.digest('hex'), expected.digest('hex'));
      await waitFor('the function to return', () => progressOf(progress).done);
    } finally {
      await progress.close();
    }
  });

  it('lets a streaming function run on to its end when its caller goes away', async () => {
    const progress = await CallbackListener.start();
    try {
      const total = 64;
      const abort = new AbortController();
      const output = await e2e.lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: bulk, Payload: encode({ mb: total, progress: progress.url }) }), {
        abortSignal: abort.signal,
      });
      assert.ok(output.EventStream);
      const events = output.EventStream[Symbol.asyncIterator]();
      await events.next();
      abort.abort();
      await events.next().catch(() => undefined);
      // Not held back by a caller who will never read (its timeout is 120 s).
      await waitFor('the function to return', () => progressOf(progress).done, { timeoutMs: 30_000 });
      assert.equal(progressOf(progress).mb, total);
    } finally {
      await progress.close();
    }
  });
});
