import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_NATS_URL, freePort, isolatedEnvironment, removeIsolatedResources, startServer, stopServer, waitFor, type ServerProcess } from '@tributary/testing';
import { DurableConsumer, POISON_DELIVERIES } from './durable-consumer.js';
import { NatsClient } from './nats-client.js';

describe('DurableConsumer (real NATS)', () => {
  const env = isolatedEnvironment();
  const stream = env['EVENTS_STREAM'] ?? '';
  const subject = `${env['EVENTS_SUBJECT_ROOT'] ?? ''}.test`;
  const durable = env['DISPATCHER_CONSUMER'] ?? '';
  let client: NatsClient;

  before(async () => {
    client = await NatsClient.connect({ url: TEST_NATS_URL, name: 'durable-consumer-spec' });
  });

  after(async () => {
    await client.drain();
    await removeIsolatedResources(env);
  });

  /** A consumer on `on`'s NATS that makes the stream when it (re)starts and records what it takes. */
  const startRecording = async (on: NatsClient): Promise<{ consumer: DurableConsumer; seen: string[] }> => {
    const ensure = () => on.ensureEventsStream(stream, [`${env['EVENTS_SUBJECT_ROOT'] ?? ''}.>`], 60_000);
    await ensure();
    const seen: string[] = [];
    const consumer = new DurableConsumer(on, { stream, durable, ackWaitMs: 30_000, concurrency: 4 }, ensure);
    await consumer.start(async (msg) => {
      seen.push(msg.string());
      msg.ack();
    });
    return { consumer, seen };
  };

  it('takes up its work again when its consumer or its stream is deleted under it, and says so in health', async () => {
    const { consumer, seen } = await startRecording(client);
    try {
      assert.equal(consumer.consuming, true);
      await client.js.publish(subject, 'first');
      await waitFor('the first message', () => seen.includes('first'));

      // An operator removes the consumer: new work must still be handled.
      await client.jsm.consumers.delete(stream, durable);
      await waitFor('health to say the consumer is gone', () => !consumer.consuming, { timeoutMs: 10_000 });
      await waitFor('the consumer to be back', () => consumer.consuming, { timeoutMs: 15_000 });
      await client.js.publish(subject, 'after the consumer was deleted');
      await waitFor('a message published after the consumer was deleted', () => seen.includes('after the consumer was deleted'), { timeoutMs: 10_000 });

      // The stream itself is lost (storage wiped): the consumer makes it again and goes on.
      await client.jsm.streams.delete(stream);
      await waitFor('the stream to be back', async () => (await client.jsm.streams.info(stream).catch(() => undefined)) !== undefined && consumer.consuming, { timeoutMs: 20_000 });
      await client.js.publish(subject, 'after the stream was deleted');
      await waitFor('a message published after the stream was deleted', () => seen.includes('after the stream was deleted'), { timeoutMs: 10_000 });
    } finally {
      await consumer.stop();
    }
  });

  it('gives up a message that fails the same way on every delivery, and retries one whose failure may pass', async () => {
    const own = isolatedEnvironment();
    const ownStream = own['EVENTS_STREAM'] ?? '';
    const root = own['EVENTS_SUBJECT_ROOT'] ?? '';
    const ownDurable = own['DISPATCHER_CONSUMER'] ?? '';
    await client.ensureEventsStream(ownStream, [`${root}.>`], 60_000);
    const consumer = new DurableConsumer(client, { stream: ownStream, durable: ownDurable, ackWaitMs: 30_000, concurrency: 4 });
    const deliveries = new Map<string, number>();
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i += 1) deep = [deep];
    try {
      await consumer.start(async (msg) => {
        const body = msg.string();
        const count = (deliveries.get(body) ?? 0) + 1;
        deliveries.set(body, count);
        // As a dispatcher turning JSON nested this deeply into a job fails: a RangeError, every time.
        if (body === 'poison') JSON.stringify(deep);
        // As Redis being away fails, until it is back; and a bug a fixed build mends (a TypeError).
        if (body === 'outage' && count < POISON_DELIVERIES + 2) throw count % 2 ? new Error('Connection is closed.') : new TypeError("Cannot read properties of undefined (reading 'id')");
        msg.ack();
      });
      await client.js.publish(`${root}.x`, 'poison');
      await client.js.publish(`${root}.x`, 'outage');
      // Redelivered after 1, 2, 4 and 8 s: by then a poison message not given up would have come a fourth time.
      await waitFor('the message whose failure passed to be taken', () => deliveries.get('outage') === POISON_DELIVERIES + 2, { timeoutMs: 30_000 });
      assert.equal(deliveries.get('poison'), POISON_DELIVERIES);
      const info = await client.jsm.consumers.info(ownStream, ownDurable);
      assert.deepEqual([info.num_ack_pending, info.num_pending, info.num_redelivered], [0, 0, 0]);
    } finally {
      await consumer.stop();
      await removeIsolatedResources(own);
    }
  });

  it('consumes again within seconds of NATS coming back, when JetStream was not ready at the first reconnect', async () => {
    // A NATS server of the test's own, restarted under the consumer: first without JetStream (as
    // one still recovering its store answers), then with it.
    const dir = await mkdtemp(join(tmpdir(), 'trib-consumer-'));
    const port = await freePort();
    const withJetStream: ServerProcess = { command: 'nats-server', args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'js')], port };
    const withoutJetStream: ServerProcess = { command: 'nats-server', args: ['-a', '127.0.0.1', '-p', String(port)], port };
    await startServer(withJetStream);
    const own = await NatsClient.connect({ url: `nats://127.0.0.1:${port}`, name: 'durable-consumer-restart-spec' });
    own.watchStatus(); // so that `connected` follows the reconnects
    const { consumer, seen } = await startRecording(own);
    try {
      await own.js.publish(subject, 'before');
      await waitFor('the message before the restart', () => seen.includes('before'));
      await stopServer(withJetStream);
      await startServer(withoutJetStream);
      await waitFor('the client to reconnect to the server without JetStream', () => own.connected, { timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 1000)); // its check of the consumer fails meanwhile
      await stopServer(withoutJetStream);
      await startServer(withJetStream);
      await waitFor('the client to reconnect', () => own.connected, { timeoutMs: 10_000 });
      await waitFor('a publish to be stored again', () => own.js.publish(subject, 'after').then(() => true, () => false), { timeoutMs: 10_000, intervalMs: 200 });
      // nats.js's default pull expiry (30 s) put its next check 15-45 s away.
      await waitFor('the message after the restart', () => seen.includes('after'), { timeoutMs: 12_000 });
    } finally {
      await consumer.stop();
      await own.drain().catch(() => undefined);
      await stopServer(withJetStream);
      await stopServer(withoutJetStream);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
