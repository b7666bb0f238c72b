// `npm run bench:sweep`: what the worker's look for queues with work costs with many functions
// registered (it runs every WORKER_IDLE_QUEUE_MS, and at start). The baseline, measured in the
// same run, is the look as it was before: a BullMQ Queue handle and getJobCounts per function,
// one after another. Both look at the same names on the same Redis; one queue in 100 has a job.
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { InvocationJob } from '@tributary/contracts';
import { FunctionWorkers, InvocationQueues, openFunctionQueue } from '@tributary/queue';
import { deleteKeysUnder } from './redis-keys.js';

// FunctionWorkers logs each attachment at debug level: only warnings and errors here.
Logger.overrideLogger(['warn', 'error']);
const { values } = parseArgs({ options: { functions: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '5' } } });
const FUNCTIONS = Number(values.functions);
const ROUNDS = Number(values.rounds);
const REDIS = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `sweepbench_${process.pid}`;
const connection = new Redis(REDIS, { maxRetriesPerRequest: null });
const names = Array.from({ length: FUNCTIONS }, (_, i) => `fn${i}`);
const busy = names.filter((_, i) => i % 100 === 42);

const queues = new InvocationQueues({ connection, prefix, dedupeWindowMs: 60_000, asyncAttempts: 1, asyncRetryDelayMs: 60_000 });
for (const name of busy) {
  const job: InvocationJob = { v: 1, requestId: `r-${name}`, functionName: name, qualifier: '$LATEST', functionRevision: 1, invocationType: 'Event', logType: 'None', payload: '{}', receivedAt: Date.now() };
  // Delayed, so that it stays queued while the workers that find it are attached.
  await queues.queue(name).add('invoke', job, { jobId: job.requestId, delay: 3_600_000 });
}

const previousLook = async (): Promise<string[]> => {
  const found: string[] = [];
  for (const name of names) {
    const queue = openFunctionQueue(name, connection, prefix);
    const counts = await queue.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'waiting-children');
    if (Object.values(counts).some((n) => n > 0)) found.push(name);
    await queue.close();
  }
  return found;
};

const currentLook = async (): Promise<string[]> => {
  const workers = new FunctionWorkers({ connection, prefix, concurrency: 1, idleMs: 3_600_000, lockDurationMs: 30_000, stalledIntervalMs: 30_000, processor: async () => undefined });
  await workers.attachPending(names);
  const found = workers.active();
  await workers.close(1000);
  return found;
};

interface Sample { wallMs: number; cpuMs: number }
const measure = async (look: () => Promise<string[]>): Promise<Sample> => {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const found = await look();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  if (found.length !== busy.length) throw new Error(`found ${found.length} queues with work, expected ${busy.length}`);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const results: Record<'previous' | 'current', Sample[]> = { previous: [], current: [] };
try {
  // One warm-up round each, then alternate so that the machine's drift falls on both alike.
  await measure(previousLook);
  await measure(currentLook);
  for (let round = 0; round < ROUNDS; round += 1) {
    results.previous.push(await measure(previousLook));
    results.current.push(await measure(currentLook));
  }
} finally {
  await deleteKeysUnder(connection, prefix);
  await queues.close();
  connection.disconnect();
}

const row = (label: string, samples: Sample[]): string =>
  `| ${label} | ${median(samples.map((s) => s.wallMs)).toFixed(1)} | ${median(samples.map((s) => s.cpuMs)).toFixed(1)} |`;
const ratio = (f: (s: Sample) => number): string => (median(results.current.map(f)) / median(results.previous.map(f))).toFixed(3);
process.stdout.write(
  [
    `Looking for queues with work among ${FUNCTIONS} registered functions (${busy.length} with a job), median of ${ROUNDS} rounds`,
    '',
    '| look | wall ms | worker CPU ms |',
    '|---|---|---|',
    row('previous: a Queue handle and getJobCounts per function (baseline)', results.previous),
    row('current: FunctionWorkers.attachPending (EXISTS per function, pipelined)', results.current),
    `| ratio current / previous | ${ratio((s) => s.wallMs)} | ${ratio((s) => s.cpuMs)} |`,
    '',
  ].join('\n'),
);
