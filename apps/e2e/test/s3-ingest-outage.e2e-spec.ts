import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Stack } from '@tributary/stack';
import { freePort, isolatedEnvironment, waitFor } from '@tributary/testing';

const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p)) ?? 'nats-server';

/** A NATS server of this test's own, so that stopping it disturbs nobody else. */
const startNats = (port: number, storeDir: string): ChildProcess =>
  spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: 'ignore' });

const stopNats = async (server: ChildProcess): Promise<void> => {
  if (server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
};

const notification = (key: string) =>
  JSON.stringify({ Records: [{ eventName: 's3:ObjectCreated:Put', s3: { bucket: { name: 'photos' }, object: { key, size: 1, eTag: key } } }] });

describe('s3-ingest while NATS is briefly down', () => {
  let natsPort: number;
  let storeDir: string;
  let nats: ChildProcess;
  let stack: Stack;
  const env = isolatedEnvironment();

  const storedEvents = async (): Promise<number> => {
    const nc = await connect({ servers: `127.0.0.1:${natsPort}` });
    try {
      return (await (await jetstreamManager(nc)).streams.info(env['EVENTS_STREAM'] ?? '')).state.messages;
    } finally {
      await nc.close();
    }
  };

  const natsAnswers = (): Promise<boolean> =>
    connect({ servers: `127.0.0.1:${natsPort}` }).then((nc) => nc.close().then(() => true), () => false);

  before(async () => {
    natsPort = await freePort();
    storeDir = await mkdtemp(join(tmpdir(), 'trib-nats-'));
    nats = startNats(natsPort, storeDir);
    await waitFor('the test NATS server', natsAnswers);
    stack = new Stack({ env: { ...env, NATS_URL: `nats://127.0.0.1:${natsPort}`, LOG_LEVEL: 'error' }, ports: { 's3-ingest': await freePort() }, output: 'pipe' });
    await stack.start(['s3-ingest']);
  });


  after(async () => {
    await stack?.stop('SIGKILL');
    await stopNats(nats);
    await rm(storeDir, { recursive: true, force: true });
  });

  it('answers 503 while NATS is down, so the store retries, and loses nothing once it is back', async () => {
    const webhook = `${stack.url('s3-ingest')}/events`;
    const post = (key: string) => fetch(webhook, { method: 'POST', body: notification(key) });

    assert.equal((await post('before.jpg')).status, 200);
    assert.equal(await storedEvents(), 1);

    await stopNats(nats);
    const during = await post('during.jpg');
    assert.equal(during.status, 503);
    assert.match(((await during.json()) as { message: string }).message, /retry later/);
    await waitFor('health to report NATS down', async () => (await fetch(`${stack.url('s3-ingest')}/health`)).status === 503);

    nats = startNats(natsPort, storeDir);
    await waitFor('s3-ingest to reconnect', async () => (await fetch(`${stack.url('s3-ingest')}/health`)).status === 200, { timeoutMs: 20_000 });
    // The store retries the notification it could not deliver.
    assert.equal((await post('during.jpg')).status, 200);
    assert.equal(await storedEvents(), 2);
  });
});
