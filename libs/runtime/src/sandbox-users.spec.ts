import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coversUids, mappedUidRanges } from './sandbox-pool.js';

describe('the uids a user namespace maps', () => {
  it('reads uid_map lines as ranges, in order', () => {
    assert.deepEqual(mappedUidRanges('         0          0 4294967295\n'), [[0, 4_294_967_294]]);
    // A rootless container: root is the host user, then 65,536 subordinate uids.
    assert.deepEqual(mappedUidRanges('      1      100000      65536\n      0       1000          1\n'), [[0, 0], [1, 65_536]]);
  });

  it('tells whether a range of sandbox uids is mapped, across adjacent ranges', () => {
    const rootless = mappedUidRanges('0 1000 1\n1 100000 65536\n');
    assert.equal(coversUids(rootless, 60_000, 60_999), true);
    assert.equal(coversUids(rootless, 65_534, 66_533), false, 'the old default uid with 1,000 of them');
    assert.equal(coversUids(rootless, 0, 65_536), true, 'two ranges that meet');
    assert.equal(coversUids(mappedUidRanges('0 0 1000\n2000 2000 1000\n'), 900, 2100), false, 'a gap between two ranges');
  });
});
