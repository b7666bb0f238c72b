import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { Queue } from 'bullmq';
import { connect } from '@nats-io/transport-node';
import { functionQueueName, workAnnounceSubject } from '@tributary/contracts';
import { TEST_NATS_URL, TEST_REDIS_URL, uniqueName, waitFor } from '@tributary/testing';
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

  it('attach no queue for a name no function has: anyone may publish one, and each would hold a Redis connection', async () => {
    const heard = async (which: string) => {
      const metrics = await (await fetch(`${e2e.stack.url('worker')}/metrics`)).text();
      return Number(new RegExp(`^tributary_worker_work_announcements_total\\{function="${which}"[^}]*\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    };
    const before = await heard('unknown');
    const ghosts = Array.from({ length: 50 }, () => uniqueName('ghost'));
    const nc = await connect({ servers: TEST_NATS_URL });
    try {
      for (const ghost of ghosts) nc.publish(workAnnounceSubject(ghost, e2e.env['SUBJECT_PREFIX']), '');
      await nc.flush();
    } finally {
      await nc.close();
    }
    await waitFor('the worker to hear every made-up name', async () => (await heard('unknown')) - before >= ghosts.length);
    for (const ghost of ghosts.slice(0, 5)) {
      const queue = new Queue(functionQueueName(ghost), { connection: { url: TEST_REDIS_URL }, prefix: e2e.env['QUEUE_PREFIX'] ?? '' });
      try {
        assert.deepEqual(await queue.getWorkers(), []);
      } finally {
        await queue.close();
      }
    }
    // A function created now (maybe not yet in the worker's index when announced) still runs.
    const fresh = uniqueName('fresh');
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(fresh, 'exports.handler = async () => "fresh";')));
    assert.equal(JSON.parse(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: fresh }))).Payload)), 'fresh');
  });
});
