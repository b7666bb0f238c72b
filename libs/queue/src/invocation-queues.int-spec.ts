import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { UnrecoverableError } from 'bullmq';
import { Redis } from 'ioredis';
import type { InvocationJob } from '@tributary/contracts';
import { TEST_REDIS_URL, deleteRedisKeys, listRedisKeys, uniqueName, waitFor } from '@tributary/testing';
import { FunctionWorkers, InvocationQueues, QUEUE_EVENTS_KEPT } from './index.js';

const job = (requestId: string, invocationType: InvocationJob['invocationType'], functionName = 'fn'): InvocationJob => ({
  v: 1,
  requestId,
  functionName,
  qualifier: '$LATEST',
  functionRevision: 1,
  invocationType,
  logType: 'None',
  payload: JSON.stringify({ requestId }),
  receivedAt: Date.now(),
});

describe('InvocationQueues and FunctionWorkers (real Redis)', () => {
  const prefix = uniqueName('q');
  let connection: Redis;
  let queues: InvocationQueues;

  before(() => {
    connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    queues = new InvocationQueues({ connection, prefix, dedupeWindowMs: 120_000, asyncAttempts: 3, asyncRetryDelayMs: 60_000 });
  });

  after(async () => {
    await queues.close();
    await deleteRedisKeys(`${prefix}:*`);
    connection.disconnect();
  });

  it('queues the same event once, even after the job has completed and been removed', async () => {
    const fn = uniqueName('fn');
    const ran: string[] = [];
    const workers = new FunctionWorkers({
      connection, prefix, concurrency: 1, idleMs: 60_000, lockDurationMs: 5000, stalledIntervalMs: 5000,
      processor: async (j) => void ran.push(j.data.requestId),
    });
    try {
      await queues.enqueue(job('e1', 'Event', fn));
      await queues.enqueue(job('e1', 'Event', fn));
      workers.attach(fn);
      await waitFor('the first job to run', () => ran.length === 1);
      await queues.enqueue(job('e1', 'Event', fn));
      await queues.enqueue(job('e2', 'Event', fn));
      await waitFor('the second job to run', () => ran.length >= 2);
      assert.deepEqual(ran, ['e1', 'e2']);
    } finally {
      await workers.close(5000);
    }
  });

  it('queues a concurrent burst of events, each once, and keeps every job', async () => {
    const fn = uniqueName('fn');
    const ran: string[] = [];
    const workers = new FunctionWorkers({
      connection, prefix, concurrency: 4, idleMs: 60_000, lockDurationMs: 5000, stalledIntervalMs: 5000,
      processor: async (j) => void ran.push(j.data.requestId),
    });
    try {
      const ids = Array.from({ length: 50 }, (_, i) => `b${i}`);
      // Enqueued concurrently, as a busy dispatcher does; b7 comes twice and runs once.
      await Promise.all([...ids, 'b7'].map((id) => queues.enqueue(job(id, 'Event', fn))));
      const counts = await queues.queue(fn).getJobCounts('prioritized', 'wait');
      assert.equal(counts['prioritized'], 50);
      workers.attach(fn);
      await waitFor('the burst to run', () => ran.length >= 50);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual([...ran].sort(), [...ids].sort());
    } finally {
      await workers.close(1000);
    }
  });

  it('runs as many invocations of a function at once as its concurrency, and no more', async () => {
    const fn = uniqueName('fn');
    let running = 0;
    let most = 0;
    let done = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const workers = new FunctionWorkers({
      connection, prefix, concurrency: 3, idleMs: 60_000, lockDurationMs: 5000, stalledIntervalMs: 5000,
      processor: async () => {
        running += 1;
        most = Math.max(most, running);
        await gate;
        running -= 1;
        done += 1;
      },
    });
    try {
      for (let i = 0; i < 5; i += 1) await queues.enqueue(job(`c${i}`, 'Event', fn));
      workers.attach(fn);
      await waitFor('three invocations running', () => running === 3);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(most, 3);
      release();
      await waitFor('all five to finish', () => done === 5);
      assert.equal(most, 3);
    } finally {
      release();
      await workers.close(5000);
    }
  });

  it('starts an invocation that arrives while another of the same function runs', async () => {
    const fn = uniqueName('fn');
    const started: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const workers = new FunctionWorkers({
      connection, prefix, concurrency: 2, idleMs: 60_000, lockDurationMs: 5000, stalledIntervalMs: 5000,
      processor: async (j) => {
        started.push(j.data.requestId);
        if (j.data.requestId === 'first') await gate;
      },
    });
    try {
      workers.attach(fn);
      // The worker is idle and waiting on the queue when each job arrives, as under light traffic.
      await new Promise((r) => setTimeout(r, 200));
      await queues.enqueue(job('first', 'Event', fn));
      await waitFor('the first invocation to start', () => started.includes('first'));
      await new Promise((r) => setTimeout(r, 200));
      await queues.enqueue(job('second', 'Event', fn));
      await waitFor('the second invocation to start while the first still runs', () => started.includes('second'), { timeoutMs: 5000 });
    } finally {
      release();
      await workers.close(5000);
    }
  });

  it('runs an invocation whose workers were killed under it twice', async () => {
    // A rolling restart whose grace runs out, or a worker that crashes, leaves the running job to
    // stall; BullMQ counts stalls for the job's whole life and fails it for good past the limit.
    const fn = uniqueName('fn');
    const child = fileURLToPath(new URL(`./stall-child-${fn}.mjs`, import.meta.url));
    await writeFile(
      child,
      `import { Redis } from 'ioredis';
      import { FunctionWorkers } from '@tributary/queue';
      const connection = new Redis(${JSON.stringify(TEST_REDIS_URL)}, { maxRetriesPerRequest: null });
      const workers = new FunctionWorkers({ connection, prefix: ${JSON.stringify(prefix)}, concurrency: 1, idleMs: 60_000, lockDurationMs: 1000, stalledIntervalMs: 500,
        processor: () => { process.stdout.write('started\\n'); return new Promise(() => undefined); } });
      workers.attach(${JSON.stringify(fn)});`,
    );
    const startedIn = (proc: ChildProcess) =>
      new Promise<void>((resolve, reject) => {
        proc.stdout?.on('data', (d: Buffer) => d.toString().includes('started') && resolve());
        proc.once('exit', (code) => reject(new Error(`worker exited (${code}) before the job started`)));
      });
    const ran: string[] = [];
    const workers = new FunctionWorkers({
      connection, prefix, concurrency: 1, idleMs: 60_000, lockDurationMs: 1000, stalledIntervalMs: 500,
      processor: async (j) => void ran.push(j.data.requestId),
    });
    try {
      await queues.enqueue(job('twice-stalled', 'Event', fn));
      for (let kill = 0; kill < 2; kill += 1) {
        const proc = spawn(process.execPath, [child], { stdio: ['ignore', 'pipe', 'inherit'] });
        await startedIn(proc);
        proc.kill('SIGKILL');
        await new Promise((r) => proc.once('exit', r));
        // The next stalled-job check (one of the next worker's, here the child's) puts it back.
      }
      workers.attach(fn);
      await waitFor('the invocation to run after two stalls', () => ran.includes('twice-stalled'), { timeoutMs: 10_000 });
      const failed = await queues.queue(fn).getFailed();
      assert.deepEqual(failed.map((f) => f.failedReason), []);
    } finally {
      await workers.close(1000);
      await rm(child, { force: true });
    }
  });

  it('runs a sync invocation ahead of the async backlog', async () => {
    const fn = uniqueName('fn');
    for (let i = 0; i < 5; i += 1) await queues.enqueue(job(`async-${i}`, 'Event', fn));
    await queues.enqueue(job('sync', 'RequestResponse', fn));
    const ran: string[] = [];
    const workers = new FunctionWorkers({
      connection, prefix, concurrency: 1, idleMs: 60_000, lockDurationMs: 5000, stalledIntervalMs: 5000,
      processor: async (j) => void ran.push(j.data.requestId),
    });
    try {
      workers.attach(fn);
      await waitFor('all six jobs', () => ran.length === 6);
      assert.equal(ran[0], 'sync');
    } finally {
      await workers.close(5000);
    }
  });

  it('attaches to queues with pending work only, and lets go of an idle queue', async () => {
    const busy = uniqueName('fn');
    const quiet = uniqueName('fn');
    await queues.enqueue(job('p1', 'Event', busy));
    const ran: string[] = [];
    const workers = new FunctionWorkers({
      connection, prefix, concurrency: 2, idleMs: 200, lockDurationMs: 5000, stalledIntervalMs: 5000,
      processor: async (j) => void ran.push(j.data.requestId),
    });
    try {
      await workers.attachPending([busy, quiet]);
      assert.deepEqual(workers.active(), [busy]);
      await waitFor('the pending job', () => ran.includes('p1'));
      await waitFor('the idle worker to detach', () => workers.active().length === 0, { timeoutMs: 15_000 });
      await queues.enqueue(job('p2', 'Event', busy));
      workers.attach(busy);
      await waitFor('work after re-attaching', () => ran.includes('p2'));
    } finally {
      await workers.close(5000);
    }
  });

  it('finds every queue with a job waiting, queued with priority or delayed among many quiet ones', async () => {
    const [delayed, prioritized, waiting] = [uniqueName('fn'), uniqueName('fn'), uniqueName('fn')];
    // Past the first batch of names that one Redis round trip looks at.
    const names = Array.from({ length: 600 }, (_, i) => ({ 3: delayed, 420: prioritized, 599: waiting })[i] ?? uniqueName('fn'));
    await queues.queue(delayed).add('invoke', job('d1', 'Event', delayed), { jobId: 'd1', delay: 60_000 });
    await queues.enqueue(job('p1', 'Event', prioritized)); // async: BullMQ's prioritized set
    await queues.enqueue(job('s1', 'RequestResponse', waiting)); // sync: the wait list
    const workers = new FunctionWorkers({
      connection, prefix, concurrency: 1, idleMs: 60_000, lockDurationMs: 5000, stalledIntervalMs: 5000,
      processor: async () => undefined,
    });
    try {
      // Attached workers stay for idleMs after their jobs ran: what is attached is what the look found.
      await workers.attachPending(names);
      assert.deepEqual(workers.active().sort(), [delayed, prioritized, waiting].sort());
    } finally {
      await workers.close(5000);
    }
  });

  it('keeps a short event stream per queue, whichever handle opened it last', async () => {
    const fn = uniqueName('fn');
    const ran: string[] = [];
    const workers = new FunctionWorkers({
      connection, prefix, concurrency: 4, idleMs: 60_000, lockDurationMs: 5000, stalledIntervalMs: 5000,
      processor: async (j) => void ran.push(j.data.requestId),
    });
    try {
      // The worker's own look at the queue opens a handle too: it must not restore BullMQ's default.
      await queues.enqueue(job('first', 'Event', fn));
      await workers.attachPending([fn]);
      for (let i = 0; i < 400; i += 1) await queues.enqueue(job(`many-${i}`, 'Event', fn));
      await waitFor('every job to run', () => ran.length === 401, { timeoutMs: 30_000 });
      const events = `${prefix}:fn.${fn}:events`;
      assert.equal(await connection.hget(`${prefix}:fn.${fn}:meta`, 'opts.maxLenEvents'), String(QUEUE_EVENTS_KEPT));
      // Trimming is approximate (whole stream nodes), but ~1,600 events must not all stay.
      const kept = await connection.xlen(events);
      assert.ok(kept > 0 && kept < 4 * QUEUE_EVENTS_KEPT, `${kept} events kept`);
    } finally {
      await workers.close(5000);
    }
  });

  it("removes a deleted function's queue once nothing in it waits or runs, and nothing else", async () => {
    const gone = uniqueName('fn');
    const neighbour = `${gone}-b`; // a name that starts with the other's
    const keysOf = (name: string) => listRedisKeys(`${prefix}:fn.${name}:*`);
    // More failed jobs than one removal call takes, each with its job hash.
    const failing = 1_050;
    const ran: string[] = [];
    const workers = new FunctionWorkers({
      connection, prefix, concurrency: 50, idleMs: 60_000, lockDurationMs: 5000, stalledIntervalMs: 5000,
      processor: async (j) => {
        ran.push(j.data.requestId);
        if (j.data.requestId.startsWith('bad')) throw new UnrecoverableError('function not found');
      },
    });
    try {
      await queues.enqueue(job('neighbour', 'Event', neighbour));
      await queues.enqueue(job('ok', 'RequestResponse', gone));
      for (let i = 0; i < failing; i += 1) await queues.enqueue(job(`bad-${i}`, 'Event', gone));
      workers.attach(gone);
      await waitFor('every job to end', () => ran.length === failing + 1, { timeoutMs: 30_000 });
      assert.equal(await connection.zcard(`${prefix}:fn.${gone}:failed`), failing);
      assert.deepEqual((await workers.queuedFunctions()).filter((n) => n.startsWith(gone)).sort(), [gone, neighbour].sort());

      assert.equal(await workers.removeQueue(gone), 'attached');
      await workers.detach(gone);
      await queues.enqueue(job('late', 'Event', gone)); // queued before the removal: kept
      assert.equal(await workers.removeQueue(gone), 'pending');
      assert.ok((await keysOf(gone)).includes(`${prefix}:fn.${gone}:invoke__late`));

      workers.attach(gone);
      await waitFor('the late job', () => ran.includes('late'));
      await workers.detach(gone);
      const neighbourKeys = await keysOf(neighbour);
      assert.equal(await workers.removeQueue(gone), 'removed');
      assert.equal(await workers.removeQueue(gone), 'absent');
      // What stays are the de-duplication marks, each expiring with its window.
      const left = await keysOf(gone);
      assert.deepEqual(left.filter((key) => !key.startsWith(`${prefix}:fn.${gone}:de:`)), []);
      const ttls = await Promise.all(left.map((key) => connection.pttl(key)));
      assert.ok(ttls.every((ttl) => ttl > 0 && ttl <= 120_000), 'every mark left expires');
      assert.deepEqual(await keysOf(neighbour), neighbourKeys);
      assert.ok(neighbourKeys.length > 0);
      assert.deepEqual((await workers.queuedFunctions()).filter((n) => n.startsWith(gone)), [neighbour]);

      // A function created again under the name queues and runs as a new one, with a short event
      // stream again once the producer has let go of the deleted function's handle.
      queues.forget(gone);
      await queues.enqueue(job('reborn', 'RequestResponse', gone));
      workers.attach(gone);
      await waitFor('the new function’s job', () => ran.includes('reborn'));
      assert.equal(await connection.hget(`${prefix}:fn.${gone}:meta`, 'opts.maxLenEvents'), String(QUEUE_EVENTS_KEPT));
    } finally {
      await workers.close(5000);
    }
  });
});
