import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('reads a secret from the file NAME_FILE names, as container secrets are mounted, and refuses both or an unreadable one', () => {
    class Signed extends WithApiCredentials(WithHttp(BaseConfig, 9999)) {}
    const dir = mkdtempSync(join(tmpdir(), 'config-spec-'));
    try {
      const file = join(dir, 'credentials');
      writeFileSync(file, 'AKID1:from-a-file\n');
      assert.equal(loadConfig('svc', Signed, { API_CREDENTIALS_FILE: file }).API_CREDENTIALS, 'AKID1:from-a-file');
      // The file's value is validated as the variable's would be, and not shown either.
      writeFileSync(file, 'AKID1-no-secret\n');
      assert.throws(() => loadConfig('svc', Signed, { API_CREDENTIALS_FILE: file }), /API_CREDENTIALS=\(15 characters, not shown\)/);
      assert.throws(() => loadConfig('svc', Signed, { API_CREDENTIALS_FILE: file, API_CREDENTIALS: 'AKID2:x' }), /API_CREDENTIALS_FILE=.*API_CREDENTIALS is set too/);
      assert.throws(() => loadConfig('svc', Signed, { API_CREDENTIALS_FILE: join(dir, 'missing') }), /API_CREDENTIALS_FILE=.*cannot be read \(ENOENT\)/);
      // Only the service's own secrets come from files: another *_FILE is left alone.
      assert.equal(loadConfig('svc', TestConfig, { PORT_FILE: join(dir, 'missing') }).PORT, 9999);
      assert.equal(loadConfig('svc', Signed, { AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, 'missing') }).API_CREDENTIALS, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
