// `npm run bench:validate`: what the check of each invocation costs where every invocation passes
// it, the dispatcher (an invoke event) and the worker (a BullMQ job): `validateDto` with
// `shallow`, in a loop. The baseline, measured in the same run, is JSON.parse of the same
// message's bytes, which each of those hops pays anyway to read it. The loop is hot: in a
// running service, among everything else it does, a check costs two to four times as much
// (docs/ARCHITECTURE.md, Performance, session 29).
import { parseArgs } from 'node:util';
import { InvocationJobDto, InvokeEventDto, validateDto, type InvocationJob } from '@tributary/contracts';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '50000' }, rounds: { type: 'string', default: '5' } } });
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
for (const [flag, n] of [['calls', CALLS], ['rounds', ROUNDS]] as const) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive whole number`);
}

// As the API publishes a sync invoke and the dispatcher queues it.
const event = {
  specversion: '1.0', id: 'c6f1d7a4-3b1e-4c55-9a3e-2f0d1c9b8a71', source: 'tributary/api', type: 'invoke', time: new Date().toISOString(),
  targetfunction: 'noop', qualifier: '$LATEST', invocationtype: 'RequestResponse', logtype: 'None', functionrevision: 3,
  functioncreated: new Date().toISOString(), replyto: 'tributary.reply.7f3a9c.c6f1d7a4-3b1e-4c55-9a3e-2f0d1c9b8a71', deadline: Date.now() + 3000,
  data: { payload: '{"n":1}' },
};
const job: InvocationJob = {
  v: 1, requestId: event.id, functionName: 'noop', qualifier: '$LATEST', functionRevision: 3, functionCreated: event.functioncreated,
  invocationType: 'RequestResponse', logType: 'None', payload: '{"n":1}', replyTo: event.replyto, deadline: event.deadline, receivedAt: Date.now(),
};

interface Case {
  label: string;
  bytes: string;
  check: (value: object) => boolean;
}
const cases: Case[] = [
  { label: 'invoke event (dispatcher)', bytes: JSON.stringify(event), check: (v) => validateDto(InvokeEventDto, v, { shallow: true }).ok },
  { label: 'job (worker)', bytes: JSON.stringify(job), check: (v) => validateDto(InvocationJobDto, v, { shallow: true }).ok },
];

/** µs per call of `run`, over CALLS calls. */
const time = (run: () => void): number => {
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i += 1) run();
  return Number(process.hrtime.bigint() - started) / CALLS / 1000;
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const rows: string[] = [];
for (const c of cases) {
  const value = JSON.parse(c.bytes) as object;
  if (!c.check(value)) throw new Error(`${c.label}: the bench's own message fails the check`);
  // Warm-up, so that the JIT has settled before anything is timed.
  time(() => c.check(value));
  time(() => JSON.parse(c.bytes));
  const checks: number[] = [];
  const parses: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    checks.push(time(() => c.check(value)));
    parses.push(time(() => JSON.parse(c.bytes)));
  }
  const check = median(checks);
  const parse = median(parses);
  rows.push(`| ${c.label} | ${c.bytes.length} | ${parse.toFixed(2)} | ${check.toFixed(2)} | ${(check / parse).toFixed(1)} |`);
}
process.stdout.write(
  `${CALLS} calls per round, median of ${ROUNDS} rounds, ${process.version}\n` +
    '| message | bytes | JSON.parse µs (baseline) | check µs | check / JSON.parse |\n|---|---|---|---|---|\n' +
    `${rows.join('\n')}\n`,
);
