import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { uniqueName } from '@tributary/testing';
import { decode, encode, functionInput, startE2eStack, type E2eStack } from './harness.js';

describe('work announcements, at most one per interval', () => {
  let e2e: E2eStack;
  const name = uniqueName('announced');

  before(async () => {
    // A long interval, and a sweep for unannounced work far beyond the test's patience: only
    // the dispatcher's announcement can bring a restarted worker to the function's queue in time.
    e2e = await startE2eStack({ WORK_ANNOUNCE_INTERVAL_MS: '8000', WORKER_IDLE_QUEUE_MS: '600000' });
    await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(name, 'exports.handler = async (event) => ({ n: event.n });')),
    );
  });

  after(async () => e2e?.stop());

  const invoke = async (n: number) =>
    JSON.parse(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: name, Payload: encode({ n }) }))).Payload)) as unknown;

  it('reach a worker that restarted within the interval, by its end', async () => {
    assert.deepEqual(await invoke(1), { n: 1 }); // announced at once
    // The worker that took it goes away; its successor finds no queued work when it starts.
    await e2e.stack.restart('worker');
    // Within the interval: held back, then announced when the interval ends.
    const started = Date.now();
    assert.deepEqual(await invoke(2), { n: 2 });
    assert.ok(Date.now() - started < 9_000, `answered after ${Date.now() - started} ms`);
    // Many jobs in one interval all run, the function keeps being served.
    assert.deepEqual(await Promise.all([3, 4, 5].map(invoke)), [{ n: 3 }, { n: 4 }, { n: 5 }]);
  });
});
