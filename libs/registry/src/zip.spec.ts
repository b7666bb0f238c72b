import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { zipSync, strToU8 } from 'fflate';
import { inspectZip, isValidZip } from './zip.js';

describe('isValidZip', () => {
  it('accepts a zip with a handler', async () => {
    assert.equal(await isValidZip(zipSync({ 'index.js': strToU8('exports.handler = async () => 1;') })), true);
  });

  it('refuses bytes that are not a zip, an empty archive and a path escaping the task root', async () => {
    assert.equal(await isValidZip(Buffer.from('definitely not a zip')), false);
    assert.equal(await isValidZip(zipSync({})), false);
    assert.equal(await isValidZip(zipSync({ '../evil.js': strToU8('x') })), false);
  });
});

describe('inspectZip', () => {
  it('sums what the entries declare unzipped, which is what AWS limits', async () => {
    const zip = zipSync({ 'index.js': strToU8('x'.repeat(10_000)), 'lib/a.js': strToU8('y'.repeat(5_000)) });
    assert.deepEqual(await inspectZip(zip), { entries: 2, unzippedBytes: 15_000 });
    assert.equal(await inspectZip(Buffer.from('nope')), undefined);
    assert.deepEqual(await inspectZip(zipSync({})), { entries: 0, unzippedBytes: 0 });
  });
});
