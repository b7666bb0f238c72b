import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HealthRegistry } from './health.registry.js';

describe('HealthRegistry', () => {
  it('is ready only when every check passes', async () => {
    const health = new HealthRegistry();
    let redisUp = true;
    health.register('nats', () => true);
    health.register('redis', async () => redisUp);
    assert.deepEqual(await health.report(), { ready: true, checks: { nats: 'up', redis: 'up' } });
    redisUp = false;
    assert.deepEqual(await health.report(), { ready: false, checks: { nats: 'up', redis: 'down' } });
  });

  it('treats a throwing check as down and reports not ready while shutting down', async () => {
    const health = new HealthRegistry();
    health.register('broken', () => {
      throw new Error('boom');
    });
    assert.equal((await health.report()).checks['broken'], 'down');
    const healthy = new HealthRegistry();
    healthy.register('nats', () => true);
    healthy.markShuttingDown();
    assert.equal((await healthy.report()).ready, false);
  });
});
