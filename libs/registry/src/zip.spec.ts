import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { zipSync, strToU8 } from 'fflate';
import { isValidZip } from './zip.js';

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
