import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkAnnouncer } from './work-announcer.js';

describe('WorkAnnouncer', () => {
  const setUp = (intervalMs: number) => {
    let now = 1_000;
    const published: string[] = [];
    const announcer = new WorkAnnouncer((name) => published.push(name), intervalMs, () => now);
    return { announcer, published, advance: (ms: number) => (now += ms) };
  };

  it('announces a function once per interval, however many jobs it gets', () => {
    const { announcer, published, advance } = setUp(1000);
    announcer.announce('a');
    announcer.announce('a');
    advance(999);
    announcer.announce('a');
    assert.deepEqual(published, ['a']);
    advance(1);
    announcer.announce('a');
    assert.deepEqual(published, ['a', 'a']);
  });

  it('keeps the interval per function', () => {
    const { announcer, published } = setUp(1000);
    announcer.announce('a');
    announcer.announce('b');
    announcer.announce('a');
    assert.deepEqual(published, ['a', 'b']);
  });

  it('announces every job when the interval is 0', () => {
    const { announcer, published } = setUp(0);
    announcer.announce('a');
    announcer.announce('a');
    assert.deepEqual(published, ['a', 'a']);
  });

  it('forgets stale entries instead of growing without bound', () => {
    const { announcer, published, advance } = setUp(10);
    for (let i = 0; i < 10_000; i++) announcer.announce(`f${i}`);
    assert.equal(announcer.remembered, 10_000);
    advance(10);
    announcer.announce('new');
    assert.equal(announcer.remembered, 1);
    announcer.announce('f0');
    assert.deepEqual(published.slice(-2), ['new', 'f0']);
  });
});
