import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { CreateFunctionCommand, DeleteFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { TEST_REDIS_URL, listRedisKeys, uniqueName, waitFor } from '@tributary/testing';
import { decode, encode, functionInput, startE2eStack, type E2eStack } from './harness.js';

const HANDLER = `exports.handler = async (event) => {
  if (event.fail) throw new Error('asked to fail');
  return { ok: true };
};`;

describe('the queue of a deleted function', () => {
  let e2e: E2eStack;
  let redis: Redis;
  const prefix = (): string => e2e.env['QUEUE_PREFIX'] ?? '';
  // The de-duplication marks of its jobs stay until their window ends; nothing else may.
  const lasting = async (name: string) =>
    (await listRedisKeys(`${prefix()}:fn.${name}:*`)).filter((key) => !key.startsWith(`${prefix()}:fn.${name}:de:`));

  before(async () => {
    // The worker looks for work and for queues to remove every half second; a failed async
    // invocation is not tried again, so that it ends among the failed jobs at once.
    e2e = await startE2eStack({ WORKER_IDLE_QUEUE_MS: '500', ASYNC_ATTEMPTS: '1' });
    redis = new Redis(TEST_REDIS_URL);
  });

  after(async () => {
    redis?.disconnect();
    await e2e?.stop();
  });

  it('is removed from Redis once its jobs have ended, and a function created again under the name runs', async () => {
    const name = uniqueName('ephemeral');
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(name, HANDLER)));
    assert.equal(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({}) }))).Payload), '{"ok":true}');
    await e2e.lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: encode({ fail: true }) }));
    await waitFor('the failed async invocation', async () => (await redis.zcard(`${prefix()}:fn.${name}:failed`)) === 1, { timeoutMs: 15_000 });
    assert.ok((await lasting(name)).length >= 3, 'the queue keeps its meta, events and failed job');

    await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
    await waitFor('the queue to be removed', async () => (await lasting(name)).length === 0, { timeoutMs: 20_000 });

    await e2e.lambda.send(new CreateFunctionCommand(functionInput(name, HANDLER)));
    assert.equal(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({}) }))).Payload), '{"ok":true}');
    // The dispatcher opened the queue anew: its short event stream, not BullMQ's 10,000.
    assert.equal(await redis.hget(`${prefix()}:fn.${name}:meta`, 'opts.maxLenEvents'), '100');
  });

  it('is removed when the function was deleted while no worker ran, after its queued events end', async () => {
    const name = uniqueName('orphan');
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(name, HANDLER)));
    await e2e.stack.stopService('worker');
    try {
      for (let n = 0; n < 2; n++) {
        const queued = await e2e.lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: encode({ n }) }));
        assert.equal(queued.StatusCode, 202);
      }
      await waitFor('two queued events', async () => (await redis.zcard(`${prefix()}:fn.${name}:prioritized`)) === 2, { timeoutMs: 15_000 });
      await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
    } finally {
      await e2e.stack.startService('worker');
    }
    await waitFor('the queue to be removed', async () => (await lasting(name)).length === 0, { timeoutMs: 20_000 });
  });
});
