import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NatsClient } from '@tributary/nats';
import { TEST_NATS_URL, isolatedEnvironment, removeIsolatedResources, waitFor } from '@tributary/testing';
import { TriggerRegistry } from './trigger-registry.js';

describe('TriggerRegistry (real NATS)', () => {
  const env = isolatedEnvironment();
  const bucketName = env['TRIGGERS_BUCKET'] ?? '';
  let client: NatsClient;
  let registry: TriggerRegistry;

  before(async () => {
    client = await NatsClient.connect({ url: TEST_NATS_URL, name: 'trigger-registry-spec' });
    registry = await TriggerRegistry.open(client, { triggersBucket: bucketName });
  });

  after(async () => {
    registry.close();
    await client.drain();
    await removeIsolatedResources(env);
  });

  it('takes a bucket record whose triggers are not all triggers as no configuration, and keeps serving the others', async () => {
    await registry.put({ v: 1, bucket: 'good', lambda: [{ id: 'a', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fn', functionName: 'fn', events: ['s3:ObjectCreated:*'] }] });
    const kv = await client.kv(bucketName);
    // What anyone who can write to the KV bucket may put there: each broke every reader of triggers.
    await kv.put('null-trigger', JSON.stringify({ v: 1, bucket: 'null-trigger', lambda: [null] }));
    await kv.put('no-events', JSON.stringify({ v: 1, bucket: 'no-events', lambda: [{ id: 'b', functionArn: 'x', functionName: 'fn' }] }));
    await kv.put('odd-prefix', JSON.stringify({ v: 1, bucket: 'odd-prefix', lambda: [{ id: 'c', functionArn: 'x', functionName: 'fn', events: ['s3:*'], prefix: 7 }] }));
    await kv.put('after', JSON.stringify({ v: 1, bucket: 'after', lambda: [{ id: 'd', functionArn: 'x', functionName: 'fn', events: ['s3:ObjectRemoved:*'] }] }));
    await waitFor('the watch to pass the malformed records', () => registry.get('after') !== undefined);
    assert.deepEqual([registry.get('null-trigger'), registry.get('no-events'), registry.get('odd-prefix')], [undefined, undefined, undefined]);
    assert.deepEqual(await registry.getFresh('null-trigger'), undefined);
    assert.deepEqual(registry.forFunction('fn').sort((x, y) => x.bucket.localeCompare(y.bucket)), [{ bucket: 'after', id: 'd' }, { bucket: 'good', id: 'a' }]);
  });
});
