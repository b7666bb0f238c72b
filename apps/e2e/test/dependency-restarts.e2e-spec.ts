import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateFunctionCommand, InvokeCommand, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { buildZip, CallbackListener, freePorts, startServer, stopServer, uniqueName, waitFor, type ServerProcess } from '@tributary/testing';
import { decode, encode, functionInput, queueSettled, runsPerEvent, startE2eStack, type E2eStack } from './harness.js';

// NATS and Redis of the test's own, on spare ports, so that stopping them disturbs nothing else
// on the machine. They keep their data on disk, as docker-compose.yml's do: JetStream its store
// directory, Redis its append-only file.

// Each run reports itself to the test's listener: that is the side effect counted.
const handler = (version: string) => `
const http = require('node:http');
exports.handler = async (event, context) => {
  if (event.callback) {
    if (event.ms) await new Promise((resolve) => setTimeout(resolve, event.ms));
    await new Promise((resolve, reject) => {
      const req = http.request(event.callback, { method: 'POST' }, (res) => { res.resume(); res.on('end', resolve); });
      req.on('error', reject);
      req.end(JSON.stringify({ i: event.i, requestId: context.awsRequestId }));
    });
  }
  return '${version}';
};`;

describe('NATS and Redis restarting under a running stack', { timeout: 180_000 }, () => {
  let dir: string;
  let nats: ServerProcess;
  let redis: ServerProcess;
  let e2e: E2eStack;
  let listener: CallbackListener;
  const fn = uniqueName('deps');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-deps-'));
    const [natsPort, redisPort] = (await freePorts(2)) as [number, number];
    nats = { command: 'nats-server', args: ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', join(dir, 'nats')], port: natsPort };
    redis = {
      command: 'redis-server',
      args: ['--bind', '127.0.0.1', '--port', String(redisPort), '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir],
      port: redisPort,
    };
    await Promise.all([startServer(nats), startServer(redis)]);
    listener = await CallbackListener.start();
    e2e = await startE2eStack({
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      WORKER_CONCURRENCY: '1',
    });
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(fn, handler('v1'))));
  });

  after(async () => {
    await e2e?.stop();
    await listener?.close();
    await Promise.all([nats, redis].filter(Boolean).map(stopServer));
    await rm(dir, { recursive: true, force: true });
  });

  const invoke = async (): Promise<string> => decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: fn, Payload: encode({}) }))).Payload);
  const invokeAsync = async (event: object): Promise<number | undefined> =>
    (await e2e.lambda.send(new InvokeCommand({ FunctionName: fn, InvocationType: 'Event', Payload: encode({ callback: listener.url, ...event }) }))).StatusCode;
  /** Each service's /health: its status code and the check of `dependency`. */
  const health = async (dependency: string): Promise<string[]> =>
    Promise.all(
      (['api', 'dispatcher', 'worker'] as const).map(async (service) => {
        const answer = await fetch(`${e2e.stack.url(service)}/health`);
        const { checks } = (await answer.json()) as { checks: Record<string, string> };
        return `${service} ${answer.status} ${checks[dependency] ?? '-'}`;
      }),
    );

  it('refuses invokes while NATS is down, and serves again once it is back: new code, sync answers, async runs', async () => {
    assert.equal(await invoke(), '"v1"');
    await stopServer(nats);
    // /health says which dependency is gone, so that an orchestrator keeps traffic away.
    await waitFor('every /health to report NATS down', async () => (await health('nats')).join() === 'api 503 down,dispatcher 503 down,worker 503 down');
    // Nothing can be stored: the caller is told so (and may retry), nothing is half-accepted.
    await assert.rejects(invoke(), { name: 'ServiceException' });
    await assert.rejects(invokeAsync({ i: -1 }), { name: 'ServiceException' });
    await startServer(nats);

    assert.equal(await waitFor('a sync invoke to succeed again', () => invoke().catch(() => undefined), { timeoutMs: 30_000, intervalMs: 250 }), '"v1"');
    await waitFor('every /health to report NATS up', async () => (await health('nats')).join() === 'api 200 up,dispatcher 200 up,worker 200 up');
    await e2e.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: fn, ZipFile: buildZip({ 'index.js': handler('v2') }) }));
    await waitFor('the new code to run', async () => (await invoke()) === '"v2"', { timeoutMs: 15_000, intervalMs: 100 });
    for (let i = 0; i < 10; i += 1) assert.equal(await invokeAsync({ i }), 202);
    await listener.waitForCount(10, 30_000);
    assert.deepEqual([...runsPerEvent(listener).keys()].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('runs every async invoke accepted while Redis was down, once, after it comes back, and those queued before it went down', async () => {
    listener.received.length = 0;
    // Queued before the stop: one worker slot, 100 ms each, so most still wait in Redis when it goes down.
    for (let i = 0; i < 10; i += 1) assert.equal(await invokeAsync({ i, ms: 100 }), 202);
    await stopServer(redis);
    await waitFor('/health to report Redis down', async () => (await health('redis')).join() === 'api 200 -,dispatcher 503 down,worker 503 down');
    // Accepted while it is down: JetStream holds them; the dispatcher retries until Redis is back.
    for (let i = 10; i < 30; i += 1) assert.equal(await invokeAsync({ i }), 202);
    // A sync caller is told at once that its invocation cannot be queued, rather than throttled
    // once its wait has run out.
    await assert.rejects(invoke(), { name: 'ServiceException', message: /could not be queued/ });
    // Long enough for every client to see the connection go and for the dispatcher to back off.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.equal(listener.received.length < 10, true, 'the invocations queued before the stop ran anyway');
    await startServer(redis);

    await listener.waitForCount(30, 60_000);
    await queueSettled(e2e, fn);
    await waitFor('/health to report Redis up', async () => (await health('redis')).join() === 'api 200 -,dispatcher 200 up,worker 200 up');
    const seen = runsPerEvent(listener);
    assert.deepEqual([...seen.keys()].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i));
    // Only an invocation that was running when Redis stopped may run again (its completion could not be recorded).
    const twice = [...seen].filter(([, n]) => n > 1).map(([i]) => i);
    assert.ok(twice.length <= 1 && twice.every((i) => i < 10), `ran more than once: ${twice.join(', ')}`);
    assert.equal(await invoke(), '"v2"');
  });
});
