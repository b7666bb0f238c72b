import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RetentionPolicy } from '@nats-io/jetstream';
import { TEST_NATS_URL, isolatedEnvironment, removeIsolatedResources } from '@tributary/testing';
import { EVENT_RETENTION_MS, NatsClient } from './nats-client.js';

describe('NatsClient events streams (real NATS)', () => {
  const env = isolatedEnvironment();
  const stream = env['EVENTS_STREAM'] ?? '';
  const root = env['EVENTS_SUBJECT_ROOT'] ?? '';
  let client: NatsClient;

  before(async () => {
    client = await NatsClient.connect({ url: TEST_NATS_URL, name: 'nats-client-spec' });
  });

  after(async () => {
    await client.drain();
    await removeIsolatedResources(env);
  });

  it("keeps events for AWS's longest event age, brings a stream made with the old week down to it, and keeps an operator's own", async () => {
    // As every install before session 26 made it: a week's retention, which grew with every invocation.
    await client.jsm.streams.add({ name: stream, subjects: [`${root}.>`], retention: RetentionPolicy.Limits, max_age: 7 * 24 * 3_600_000 * 1_000_000, duplicate_window: 120_000 * 1_000_000 });
    await client.js.publish(`${root}.kept`, 'still here');
    await client.ensureEventsStream(stream, [`${root}.>`], 120_000);
    const info = await client.jsm.streams.info(stream);
    assert.equal(info.config.max_age, EVENT_RETENTION_MS * 1_000_000);
    assert.equal(EVENT_RETENTION_MS, 6 * 3_600_000);
    // The update keeps what the stream holds.
    assert.equal(info.state.messages, 1);
    // An age an operator chose is theirs: left as it is.
    await client.jsm.streams.update(stream, { ...info.config, max_age: 2 * 24 * 3_600_000 * 1_000_000 });
    await client.ensureEventsStream(stream, [`${root}.>`], 180_000);
    const chosen = await client.jsm.streams.info(stream);
    assert.deepEqual([chosen.config.max_age, chosen.config.duplicate_window], [2 * 24 * 3_600_000 * 1_000_000, 180_000 * 1_000_000]);
  });
});
