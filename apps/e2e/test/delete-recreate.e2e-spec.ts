import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { CreateFunctionCommand, DeleteFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { functionQueueName } from '@tributary/contracts';
import { CallbackListener, TEST_REDIS_URL, uniqueName, waitFor } from '@tributary/testing';
import { encode, functionInput, startE2eStack, type E2eStack } from './harness.js';

// A function that posts `<tag>` to the callback URL its event names.
const reporter = (tag: string) => `const http = require('node:http');
exports.handler = async (event) => new Promise((resolve, reject) => {
  const req = http.request(event.callback, { method: 'POST' }, (res) => { res.resume(); res.on('end', resolve); });
  req.on('error', reject);
  req.end(${JSON.stringify(tag)} + ' ' + event.n);
});`;

describe('a function deleted and created again under the same name', () => {
  let e2e: E2eStack;
  let callbacks: CallbackListener;

  before(async () => {
    e2e = await startE2eStack();
    callbacks = await CallbackListener.start();
  });

  after(async () => {
    await callbacks?.close();
    await e2e?.stop();
  });

  for (const stopped of ['dispatcher', 'worker'] as const) {
    it(`does not run the deleted function's queued events with the new code (events held by the ${stopped === 'worker' ? 'queue' : 'stream'})`, async () => {
      const name = uniqueName('reborn');
      await e2e.lambda.send(new CreateFunctionCommand(functionInput(name, reporter('old'))));
      // Without it the events wait, in JetStream or in the function's queue, as a backlog would.
      await e2e.stack.stopService(stopped);
      for (let n = 1; n <= 3; n++) {
        const queued = await e2e.lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: encode({ callback: callbacks.url, n }) }));
        assert.equal(queued.StatusCode, 202);
      }
      const queue = new Queue(functionQueueName(name), { connection: { url: TEST_REDIS_URL }, prefix: e2e.env['QUEUE_PREFIX'] ?? '' });
      try {
        const pending = async () => Object.values(await queue.getJobCounts('prioritized', 'wait', 'active', 'delayed')).reduce((a, b) => a + b, 0);
        if (stopped === 'worker') await waitFor('three queued events', async () => (await pending()) === 3);
        await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
        await e2e.lambda.send(new CreateFunctionCommand(functionInput(name, reporter('new'))));
        await e2e.stack.startService(stopped);
        // The new function's own event, behind the old ones, runs; the old ones are discarded, as
        // AWS discards the queued events of a deleted function.
        await e2e.lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: encode({ callback: callbacks.url, n: 4 }) }));
        await callbacks.waitForCount(1, 20_000);
        await waitFor('an empty queue', async () => (await pending()) === 0, { timeoutMs: 20_000 });
        assert.deepEqual(callbacks.received.map((c) => c.body), ['new 4']);
        // A synchronous call of the new function is unaffected.
        const sync = await e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({ callback: callbacks.url, n: 5 }) }));
        assert.equal(sync.FunctionError, undefined);
        assert.deepEqual(callbacks.received.map((c) => c.body), ['new 4', 'new 5']);
      } finally {
        callbacks.received.length = 0;
        await queue.close();
      }
    });
  }
});
