import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_NATS_URL, isolatedEnvironment, removeIsolatedResources, waitFor } from '@tributary/testing';
import { DurableConsumer } from './durable-consumer.js';
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

  it('takes up its work again when its consumer or its stream is deleted under it, and says so in health', async () => {
    const ensure = () => client.ensureEventsStream(stream, [`${env['EVENTS_SUBJECT_ROOT'] ?? ''}.>`], 60_000);
    await ensure();
    const seen: string[] = [];
    const consumer = new DurableConsumer(client, { stream, durable, ackWaitMs: 30_000, concurrency: 4 }, ensure);
    await consumer.start(async (msg) => {
      seen.push(msg.string());
      msg.ack();
    });
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
});
