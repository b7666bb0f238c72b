import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateFunctionCommand, InvokeCommand, TooManyRequestsException } from '@aws-sdk/client-lambda';
import { CallbackListener, uniqueName } from '@tributary/testing';
import { decode, encode, functionInput, startE2eStack, type E2eStack } from './harness.js';

// Tells the listener it started, then runs for most of its 3 s timeout.
const HANDLER = `
const http = require('node:http');
exports.handler = async (event) => {
  await new Promise((resolve, reject) => {
    const req = http.request(event.callback + '/' + event.id, { method: 'POST' }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end();
  });
  await new Promise((r) => setTimeout(r, 2500));
  return event.id;
};`;

describe('a sync invocation that waited in the queue past its budget', () => {
  let e2e: E2eStack;
  let callbacks: CallbackListener;

  before(async () => {
    // One invocation of a function at a time, and a second's wait for a free worker.
    e2e = await startE2eStack({ WORKER_CONCURRENCY: '1', SYNC_QUEUE_WAIT_MS: '1000' });
    callbacks = await CallbackListener.start();
  });

  after(async () => {
    await callbacks?.close();
    await e2e?.stop();
  });

  it('is throttled without running, rather than run while its caller is told it was throttled', async () => {
    const name = uniqueName('busy');
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(name, HANDLER, { Timeout: 3 })));
    const invoke = (id: string) =>
      e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({ callback: callbacks.url, id }) })).then(
        (out) => ({ ok: decode(out.Payload) }),
        (error: unknown) => ({ error }),
      );
    const first = invoke('first');
    await callbacks.waitForCount(1, 15_000);
    // Queued behind `first` for 2.5 s: longer than its 1 s wait, so it cannot start in time to
    // finish within its caller's wait (3 s timeout + 1 s).
    const second = await invoke('second');
    assert.deepEqual(await first, { ok: '"first"' });
    assert.ok('error' in second && second.error instanceof TooManyRequestsException, `second: ${JSON.stringify(second)}`);
    // Which limit, in the member AWS's model gives it.
    assert.equal(second.error.Reason, 'ConcurrentInvocationLimitExceeded');
    // Had it run, the caller (and the SDK, which retries a 429) would have been told it had not.
    await new Promise((r) => setTimeout(r, 3500));
    assert.deepEqual(callbacks.received.map((c) => c.path), ['/first']);
  });
});
