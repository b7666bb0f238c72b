import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { CreateFunctionCommand } from '@aws-sdk/client-lambda';
import { INVOCATION_FORMAT, functionQueueName, type InvocationJob } from '@tributary/contracts';
import { CallbackListener, TEST_REDIS_URL, uniqueName } from '@tributary/testing';
import { functionInput, startE2eStack, type E2eStack } from './harness.js';

describe('work whose announcement was lost', () => {
  let e2e: E2eStack;
  let callbacks: CallbackListener;

  before(async () => {
    // The worker looks for queues with work every half second (WORKER_IDLE_QUEUE_MS).
    e2e = await startE2eStack({ WORKER_IDLE_QUEUE_MS: '500' });
    callbacks = await CallbackListener.start();
  });

  after(async () => {
    await callbacks?.close();
    await e2e?.stop();
  });

  it('is found by the worker and runs', async () => {
    const name = uniqueName('unannounced');
    const created = await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(name, `const http = require('node:http');
exports.handler = async (event) => new Promise((resolve, reject) => {
  const req = http.request(event.callback, { method: 'POST' }, (res) => { res.resume(); res.on('end', resolve); });
  req.on('error', reject);
  req.end('ran');
});`)),
    );
    assert.equal(created.State, 'Active');
    // A job in the function's queue that no dispatcher announced (as if the announcement was lost).
    const queue = new Queue(functionQueueName(name), { connection: { url: TEST_REDIS_URL }, prefix: e2e.env['QUEUE_PREFIX'] ?? '' });
    try {
      const job: InvocationJob = {
        v: INVOCATION_FORMAT, requestId: randomUUID(), functionName: name, qualifier: '$LATEST', functionRevision: 0,
        invocationType: 'Event', logType: 'None', payload: JSON.stringify({ callback: `${callbacks.url}/ran` }), receivedAt: Date.now(),
      };
      await queue.add('invoke', job, { jobId: `lost__${job.requestId}`, removeOnComplete: true });
      const [arrived] = await callbacks.waitForCount(1, 15_000);
      assert.equal(arrived?.body, 'ran');
    } finally {
      await queue.close();
    }
  });
});
