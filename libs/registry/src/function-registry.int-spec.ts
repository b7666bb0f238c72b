import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FunctionRecord } from '@tributary/contracts';
import { NatsClient } from '@tributary/nats';
import { TEST_NATS_URL, buildZip, isolatedEnvironment, removeIsolatedResources, waitFor } from '@tributary/testing';
import { FunctionRegistry } from './function-registry.js';

const record = (name: string, code: { codeKey: string; codeSha256: string; codeSize: number }): FunctionRecord => ({
  v: 1, name, runtime: 'nodejs20.x', handler: 'index.handler', role: '', description: '', timeout: 3, memorySize: 128,
  environment: {}, architectures: ['x86_64'], ephemeralStorageMb: 512, ...code, revisionId: 'r1',
  lastModified: '2026-11-25T00:00:00.000+0000', createdAt: '2026-11-25T00:00:00.000+0000',
});

describe('FunctionRegistry code collection (real NATS)', () => {
  const env = isolatedEnvironment();
  let client: NatsClient;
  let registry: FunctionRegistry;
  const stored = async (): Promise<string[]> => {
    const store = await client.objectStore(env['CODE_STORE'] ?? '');
    return (await store.list()).filter((i) => !i.deleted).map((i) => i.name).sort();
  };

  before(async () => {
    client = await NatsClient.connect({ url: TEST_NATS_URL, name: 'registry-spec' });
    registry = await FunctionRegistry.open(client, { functionsBucket: env['FUNCTIONS_BUCKET'] ?? '', codeStore: env['CODE_STORE'] ?? '' });
  });

  after(async () => {
    registry.close();
    await client.drain();
    await removeIsolatedResources(env);
  });

  it('removes packages no function uses once they are older than the grace period, and keeps the rest', async () => {
    const used = await registry.putCode(buildZip({ 'index.js': 'exports.handler = async () => 1;' }));
    const replaced = await registry.putCode(buildZip({ 'index.js': 'exports.handler = async () => 2;' }));
    await registry.create(record('keeper', used));
    assert.deepEqual(await stored(), [used.codeKey, replaced.codeKey].sort());

    // Within the grace period nothing goes, used or not.
    assert.deepEqual(await registry.collectUnusedCode(60_000), []);
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual(await registry.collectUnusedCode(1000), [replaced.codeKey]);
    assert.deepEqual(await stored(), [used.codeKey]);

    // Deleting the function leaves its package unused: it goes at the next collection.
    await registry.delete('keeper');
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual(await registry.collectUnusedCode(1000), [used.codeKey]);
    assert.deepEqual(await stored(), []);
  });

  it('renews a package deployed again after long enough, so the collector leaves it to its new function', async () => {
    const zip = buildZip({ 'index.js': 'exports.handler = async () => 3;' });
    const first = await registry.putCode(zip, { renewAfterMs: 500 });
    await new Promise((r) => setTimeout(r, 1100));
    // Deployed again (same zip) just before a collection: stored anew, so it is kept.
    const again = await registry.putCode(zip, { renewAfterMs: 500 });
    assert.equal(again.codeKey, first.codeKey);
    assert.deepEqual(await registry.collectUnusedCode(1000), []);
    await registry.create(record('reuser', again));
    assert.equal(new TextDecoder().decode((await registry.getCode(again.codeKey)).slice(0, 2)), 'PK');
  });

  it('reads the nulls a record written before session 16 may hold as absent, with AWS defaults where they exist', async () => {
    const kv = await client.kv(env['FUNCTIONS_BUCKET'] ?? '');
    const code = await registry.putCode(buildZip({ 'index.js': 'exports.handler = async () => 5;' }));
    const stale = { ...record('nulls', code), timeout: null, memorySize: null, description: null, environment: null, ephemeralStorageMb: null, role: null };
    await kv.put('nulls', JSON.stringify(stale));
    await kv.put('no-handler', JSON.stringify({ ...record('no-handler', code), handler: null }));
    const expected = { ...record('nulls', code), timeout: 3, memorySize: 128, description: '', environment: {}, ephemeralStorageMb: 512 } as Partial<FunctionRecord>;
    delete expected.role;
    // Through the watch of a registry already open, and the load of one opened now.
    const watched = await waitFor('the watch to carry the record', () => registry.get('nulls'));
    assert.deepEqual(watched.record, expected);
    const other = await FunctionRegistry.open(client, { functionsBucket: env['FUNCTIONS_BUCKET'] ?? '', codeStore: env['CODE_STORE'] ?? '' });
    try {
      assert.deepEqual(other.get('nulls')?.record, expected);
      assert.equal(other.get('no-handler'), undefined);
    } finally {
      other.close();
    }
  });

  it('skips what is not a function record in the bucket, and keeps watching', async () => {
    const kv = await client.kv(env['FUNCTIONS_BUCKET'] ?? '');
    await kv.put('junk', 'not json');
    await kv.put('half', JSON.stringify({ name: 'half' }));
    // Settings out of the API's ranges, which no API wrote: a timeout of 1e12 s overflowed the API's timer.
    const code0 = await registry.putCode(buildZip({ 'index.js': 'exports.handler = async () => 0;' }));
    await kv.put('endless', JSON.stringify({ ...record('endless', code0), timeout: 1e12 }));
    await kv.put('tiny', JSON.stringify({ ...record('tiny', code0), memorySize: 1.5 }));
    // A registry opened now loads past them…
    const other = await FunctionRegistry.open(client, { functionsBucket: env['FUNCTIONS_BUCKET'] ?? '', codeStore: env['CODE_STORE'] ?? '' });
    try {
      assert.ok(other.list().every((e) => typeof e.record.codeKey === 'string'));
      assert.deepEqual([other.get('half'), other.get('endless'), other.get('tiny')], [undefined, undefined, undefined]);
      // …and one already watching still sees a valid change made after them.
      const code = await registry.putCode(buildZip({ 'index.js': 'exports.handler = async () => 4;' }));
      await other.create(record('after-junk', code));
      await waitFor('the watch to carry the change past the junk', () => registry.get('after-junk'));
    } finally {
      other.close();
    }
  });

  it('loads every live function and none that was deleted, however many the bucket has held', async () => {
    const code = await registry.putCode(buildZip({ 'index.js': 'exports.handler = async () => 6;' }));
    const names = Array.from({ length: 120 }, (_, i) => `many-${String(i).padStart(3, '0')}`);
    await Promise.all(names.map((name) => registry.create(record(name, code))));
    const gone = names.filter((_, i) => i % 3 === 0);
    await Promise.all(gone.map((name) => registry.delete(name)));
    const live = names.filter((name) => !gone.includes(name));
    const other = await FunctionRegistry.open(client, { functionsBucket: env['FUNCTIONS_BUCKET'] ?? '', codeStore: env['CODE_STORE'] ?? '' });
    try {
      const loaded = other.list().map((e) => e.record.name).filter((name) => name.startsWith('many-')).sort();
      assert.deepEqual(loaded, live);
      // The collector's read of the bucket itself sees the same.
      assert.equal((await other.collectUnusedCode(60_000)).length, 0);
    } finally {
      other.close();
    }
  });
});
