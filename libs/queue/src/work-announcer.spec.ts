import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { WorkAnnouncer } from './work-announcer.js';

describe('WorkAnnouncer', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  const setUp = (intervalMs: number, publish?: (name: string) => void) => {
    let now = 1_000;
    const published: string[] = [];
    const announcer = new WorkAnnouncer(publish ?? ((name) => published.push(name)), intervalMs, () => now);
    const advance = (ms: number) => {
      now += ms;
      mock.timers.tick(ms);
    };
    return { announcer, published, advance };
  };

  it('announces the first job at once and the rest of the interval once, at its end', () => {
    const { announcer, published, advance } = setUp(1000);
    announcer.announce('a');
    assert.deepEqual(published, ['a']);
    advance(100);
    announcer.announce('a');
    announcer.announce('a');
    advance(899);
    assert.deepEqual(published, ['a'], 'held back within the interval');
    advance(1);
    assert.deepEqual(published, ['a', 'a'], 'one announcement at the end of the interval, for both');
    advance(5000);
    assert.deepEqual(published, ['a', 'a'], 'nothing more without new jobs');
  });

  it('starts a new interval with the trailing announcement', () => {
    const { announcer, published, advance } = setUp(1000);
    announcer.announce('a');
    advance(500);
    announcer.announce('a');
    advance(500); // trailing announcement at 1000
    advance(200);
    announcer.announce('a'); // within the interval that began at 1000
    assert.deepEqual(published, ['a', 'a']);
    advance(800);
    assert.deepEqual(published, ['a', 'a', 'a']);
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

  it('does not count an announcement that could not be published', () => {
    let fail = true;
    const published: string[] = [];
    const { announcer } = setUp(1000, (name) => {
      if (fail) throw new Error('connection closed');
      published.push(name);
    });
    announcer.announce('a');
    fail = false;
    announcer.announce('a');
    assert.deepEqual(published, ['a']);
  });

  it('sends the held-back announcements at once when flushed (at shutdown), and only those', () => {
    const { announcer, published, advance } = setUp(1000);
    announcer.announce('a');
    announcer.announce('a'); // held back for the end of the interval
    announcer.announce('b'); // sent at once: nothing pending for it
    advance(100);
    announcer.flush();
    assert.deepEqual(published, ['a', 'b', 'a']);
    advance(2000);
    assert.deepEqual(published, ['a', 'b', 'a'], 'the timer does not send it a second time');
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
