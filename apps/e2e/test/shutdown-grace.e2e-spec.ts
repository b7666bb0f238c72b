import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { CallbackListener, uniqueName, waitFor } from '@tributary/testing';
import { encode, functionInput, startE2eStack, type E2eStack } from './harness.js';

const HANDLER = `
const http = require('node:http');
const post = (url, body) => new Promise((resolve, reject) => {
  const req = http.request(url, { method: 'POST' }, (res) => { res.resume(); res.on('end', resolve); });
  req.on('error', reject);
  req.end(body);
});
exports.handler = async (event) => {
  await post(event.callback + '/started', '');
  await new Promise((r) => setTimeout(r, 3000));
  await post(event.callback + '/done', '');
};`;

describe('an invocation still running when the worker’s shutdown grace runs out', () => {
  let e2e: E2eStack;
  let callbacks: CallbackListener;

  before(async () => {
    // A short grace, short locks; a failed async attempt would wait a minute for its retry.
    e2e = await startE2eStack({ SHUTDOWN_GRACE_MS: '500', WORKER_LOCK_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000', ASYNC_RETRY_DELAY_MS: '60000' });
    callbacks = await CallbackListener.start();
  });

  after(async () => {
    await callbacks?.close();
    await e2e?.stop();
  });

  it('is handed out again, not failed', async () => {
    const name = uniqueName('slow');
    await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(name, HANDLER, { Timeout: 30 })),
    );
    await e2e.lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: encode({ callback: callbacks.url }) }));
    await callbacks.waitForCount(1, 15_000);
    await e2e.stack.restart('worker', 'SIGTERM');
    // Redelivered once its lock lapses and run to the end by the new worker, well before the
    // minute a failed attempt would wait for its retry.
    await waitFor('the invocation to run to its end', () => callbacks.received.some((c) => c.path === '/done'), { timeoutMs: 25_000 });
    assert.ok(callbacks.received.filter((c) => c.path === '/started').length >= 2, 'the invocation started again');
  });
});
