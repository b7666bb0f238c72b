import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BaseConfig, ConfigError, WithApiCredentials, WithHttp, WithRedis, loadConfig, parseCredentialList } from './index.js';

class TestConfig extends WithRedis(WithHttp(BaseConfig, 9999)) {}

describe('loadConfig', () => {
  it('applies defaults for a local run', () => {
    const config = loadConfig('test', TestConfig, {});
    assert.equal(config.PORT, 9999);
    assert.equal(config.NATS_URL, 'nats://127.0.0.1:4222');
    assert.equal(config.REDIS_URL, 'redis://127.0.0.1:6379');
    assert.equal(config.names.eventsStream, 'EVENTS');
  });

  it('converts numbers and keeps overrides', () => {
    const config = loadConfig('test', TestConfig, { PORT: '1234', EVENTS_STREAM: 'T_1' });
    assert.equal(config.PORT, 1234);
    assert.equal(config.names.eventsStream, 'T_1');
  });

  it('names every offending variable', () => {
    assert.throws(
      () => loadConfig('svc', TestConfig, { PORT: 'abc', REDIS_URL: 'localhost', AWS_REGION: 'mars' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /^svc: invalid configuration/);
        for (const name of ['PORT', 'REDIS_URL', 'AWS_REGION']) assert.match(error.message, new RegExp(`${name}=`));
        assert.equal(error.problems.length, 3);
        assert.match(error.message, /PORT="abc"/);
        return true;
      },
    );
  });

  it('names a refused secret by its length, never its value', () => {
    class Signed extends WithApiCredentials(WithHttp(BaseConfig, 9999)) {}
    assert.throws(
      () => loadConfig('svc', Signed, { API_CREDENTIALS: 'AKIDPROD:very-secret-key,AKIDTYPO' }),
      (error: unknown) => error instanceof ConfigError && /API_CREDENTIALS=\(33 characters, not shown\)/.test(error.message) && !error.message.includes('very-secret-key'),
    );
    assert.equal(loadConfig('svc', Signed, { API_CREDENTIALS: 'AKID1:s/e+c:r=et, AKID2:x' }).API_CREDENTIALS, 'AKID1:s/e+c:r=et, AKID2:x');
  });

  it('reads ACCESS_KEY_ID:SECRET pairs, secrets with colons included, and names a broken one', () => {
    assert.deepEqual([...parseCredentialList(' AKID1:s/e+c:r=et , AKID2:x,')], [
      ['AKID1', 's/e+c:r=et'],
      ['AKID2', 'x'],
    ]);
    assert.throws(() => parseCredentialList('AKID1'), /not ACCESS_KEY_ID:SECRET_ACCESS_KEY/);
    assert.throws(() => parseCredentialList(':secret'), /not ACCESS_KEY_ID:SECRET_ACCESS_KEY/);
  });
});
