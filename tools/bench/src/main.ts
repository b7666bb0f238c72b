// `npm run bench`: a warm no-op function invoked through the Lambda API, from 1 and from 10
// concurrent clients, beside the same handler called in-process behind a bare Node http server,
// and beside two bare pipelines (bare-pipeline.ts): the prescribed path and a direct one, built
// from the same libraries with no product code. Tributary and the bare pipelines are driven
// alternately in short blocks, so that a machine whose speed drifts from minute to minute (a
// shared VM does) slows them alike: their ratios are worth reading even when each absolute
// figure moves by 20 % from one run to the next. CPU time per process is sampled around each
// block, so it too is measured under the same drift.
//
// `npm run bench -- --against <checkout>` also starts the stack of another (built) checkout and
// puts it in the rotation: an A/B comparison of latency and of CPU per process.
import { randomBytes } from 'node:crypto';
import { createServer, request, Agent, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { zipSync, strToU8 } from 'fflate';
import { Stack, type ServiceName } from '@tributary/stack';
import { startBarePipeline, type BarePipeline } from './bare-pipeline.js';
import { cpuPerOperation, sampleCpu, type Watched } from './cpu.js';
import { deleteKeysUnder } from './redis-keys.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    // Node's JIT takes thousands of requests to settle: over its first 5,000 a fresh Tributary
    // stack's p50 (per 1,000 requests) fell from 10.5 to 4.8 ms, and the bare pipeline's from 7.0
    // to 3.9 ms (docs/ARCHITECTURE.md, Performance). Fewer measure the warm-up, not the services.
    warmup: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '1,10' },
    against: { type: 'string' },
    block: { type: 'string', default: '100' },
    idle: { type: 'string', default: '10' },
    // One client that waits between requests, as sparse real traffic does: every hop then wakes
    // an idle process on an idle core, which the back-to-back rows never measure. 0 skips it.
    pace: { type: 'string', default: '10' },
    paced: { type: 'string', default: '500' },
    // InvokeWithResponseStream of a function that writes this many MB (waiting for 'drain'),
    // against a bare http server writing the same, `streams` times each. 0 skips it.
    'stream-mb': { type: 'string', default: '16' },
    streams: { type: 'string', default: '21' },
  },
});
const REQUESTS = Number(values.requests);
const WARMUP = Number(values.warmup);
const LEVELS = String(values.concurrency).split(',').map(Number);
const BLOCK = Number(values.block);
const IDLE_SECONDS = Number(values.idle);
const PACE_MS = Number(values.pace);
const PACED = Number(values.paced);
const STREAM_MB = Number(values['stream-mb']);
const STREAMS = Number(values.streams);
for (const [flag, n] of [['requests', REQUESTS], ['warmup', WARMUP], ['block', BLOCK], ['idle', IDLE_SECONDS], ['paced', PACED], ['stream-mb', STREAM_MB], ...LEVELS.map((l) => ['concurrency', l] as const)] as const) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive whole number`);
}
if (!Number.isInteger(PACE_MS) || PACE_MS < 0) throw new Error('--pace must be a whole number of milliseconds (0 skips the paced rows)');
if (!Number.isInteger(STREAMS) || STREAMS < 0) throw new Error('--streams must be a whole number (0 skips the streaming rows)');

const HANDLER_SOURCE = 'exports.handler = async (event) => ({ ok: true, echo: event.n });';
// The baseline runs the very same handler, in-process.
const handler = async (event: { n?: number }) => ({ ok: true, echo: event.n });

// A streaming function that writes `event.mb` megabytes as a well-behaved writer does; the
// streaming baseline writes the same to its http response.
const STREAM_SOURCE = `exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  const mb = Buffer.alloc(1024 * 1024, 7);
  for (let i = 0; i < event.mb; i++) if (!stream.write(mb)) await new Promise((resolve) => stream.once('drain', resolve));
  stream.end();
});`;
const streamTo = async (mb: number, res: ServerResponse): Promise<void> => {
  const chunk = Buffer.alloc(1024 * 1024, 7);
  for (let i = 0; i < mb; i++) if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
  res.end();
};

interface Figures {
  rps: number;
  p50: number;
  p99: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

const post = (url: URL, body: string): Promise<number> =>
  new Promise((done, fail) => {
    const started = performance.now();
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? done(performance.now() - started) : fail(new Error(`${url.href}: HTTP ${res.statusCode}`))));
    });
    // Named by its target: a bench that fails says which of the pipelines failed it.
    req.on('error', (error) => fail(new Error(`${url.href}: ${error.message}`, { cause: error })));
    req.end(body);
  });

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** `total` requests from `clients` concurrent clients, each pausing `paceMs` after each answer; latencies and the seconds it took. */
const drive = async (url: URL, clients: number, total: number, paceMs = 0): Promise<{ latencies: number[]; seconds: number }> => {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        next += 1;
        latencies.push(await post(url, JSON.stringify({ n: next })));
        if (paceMs > 0) await sleep(paceMs);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
};

const figures = (latencies: number[], seconds: number): Figures => {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { rps: latencies.length / seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
};

const measure = async (url: URL, clients: number, total: number): Promise<Figures> => {
  const { latencies, seconds } = await drive(url, clients, total);
  return figures(latencies, seconds);
};

interface Driven {
  url: URL;
  /** Its processes: CPU is sampled around each of its blocks. */
  watched: Watched;
}

/** A new order every round: with a fixed rotation a target always followed the same other one, and two stacks of one build (A/A) measured 2–6 % apart. */
const shuffled = <T>(items: readonly T[]): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
};

/**
 * Targets driven in turn, BLOCK requests each, in a new order every round: a machine whose
 * speed drifts slows them alike, so their ratios hold where separate runs would not. Only one
 * target is driven at a time, so the CPU of every process (the shared servers too) between the
 * two samples around a block is that target's — except the little that the idle stacks spend
 * meanwhile on the servers (heartbeats, stalled-job checks), charged to whichever is driven.
 */
const interleaved = async (targets: Driven[], clients: number, total: number, paceMs = 0): Promise<Array<Figures & { cpu: Map<string, number> }>> => {
  const runs = targets.map((target) => ({ target, latencies: [] as number[], seconds: 0, cpu: new Map<string, number>() }));
  while ((runs[0]?.latencies.length ?? total) < total) {
    for (const run of shuffled(runs)) {
      const requests = Math.min(BLOCK, total - run.latencies.length);
      const before = sampleCpu(run.target.watched);
      const { latencies, seconds } = await drive(run.target.url, clients, requests, paceMs);
      for (const [label, ms] of cpuPerOperation(before, sampleCpu(run.target.watched), 1)) run.cpu.set(label, (run.cpu.get(label) ?? 0) + ms);
      run.latencies.push(...latencies);
      run.seconds += seconds;
    }
  }
  return runs.map((run) => ({
    ...figures(run.latencies, run.seconds),
    cpu: new Map([...run.cpu].map(([label, ms]) => [label, ms / run.latencies.length])),
  }));
};

/**
 * CPU that each target's processes spend while nothing is invoked, in ms per second, all targets
 * sampled over the same seconds: what a deployed stack costs its machine between requests
 * (timers, heartbeats, polling). nats-server and redis-server are shared, so they are reported
 * once for the whole machine.
 */
const idleCpu = async (targets: Array<{ label: string; watched: Watched }>, seconds: number): Promise<Array<{ label: string; cpu: Map<string, number> }>> => {
  const servers: Watched = { roots: {}, servers: ['nats-server', 'redis-server'] };
  const before = [...targets.map((t) => sampleCpu(t.watched)), sampleCpu(servers)];
  await new Promise((done) => setTimeout(done, seconds * 1000));
  const after = [...targets.map((t) => sampleCpu(t.watched)), sampleCpu(servers)];
  const labels = [...targets.map((t) => t.label), 'machine (all stacks idle)'];
  return labels.map((label, i) => ({ label, cpu: new Map(cpuPerOperation(before[i] ?? new Map(), after[i] ?? new Map(), seconds)) }));
};

const startBaseline = async (): Promise<Server> => {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handler(JSON.parse(Buffer.concat(chunks).toString() || '{}') as { n?: number }).then((result) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
      });
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return server;
};

const startStreamBaseline = async (): Promise<Server> => {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => void streamTo(STREAM_MB, res.writeHead(200, { 'content-type': 'application/octet-stream' })));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return server;
};

/** One streamed answer read to its end as fast as it comes: ms to its first byte and to its last, and its bytes. */
const streamOnce = (url: URL, body: string): Promise<{ first: number; whole: number; bytes: number }> =>
  new Promise((done, fail) => {
    const started = performance.now();
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let first = NaN;
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        if (bytes === 0) first = performance.now() - started;
        bytes += c.byteLength;
      });
      res.on('end', () => (res.statusCode === 200 ? done({ first, whole: performance.now() - started, bytes }) : fail(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', fail);
    req.end(body);
  });

interface Target {
  url: URL;
  /** InvokeWithResponseStream of its streaming function. */
  streamUrl: URL;
  env: Record<string, string>;
  stack: Pick<Stack, 'stop' | 'pid'>;
}

/** A stack with names of its own, a warm `noop` function, and the URL that invokes it. */
const startTributary = async (StackClass: typeof Stack, portBase: number, started: Target[]): Promise<Target> => {
  const id = `bench_${randomBytes(4).toString('hex')}`;
  const env = {
    EVENTS_STREAM: `${id}_EVENTS`, EVENTS_SUBJECT_ROOT: `${id}.events`, DISPATCHER_CONSUMER: `${id}_dispatcher`,
    FUNCTIONS_BUCKET: `${id}_functions`, TRIGGERS_BUCKET: `${id}_triggers`, CODE_STORE: `${id}_code`, PAYLOAD_STORE: `${id}_payloads`,
    QUEUE_PREFIX: `${id}_q`, SUBJECT_PREFIX: `${id}.trib`, CODE_DIR: `/tmp/tributary-code-${id}`, LOG_LEVEL: 'warn',
    // Sandbox uids of its own (60000–60499, then 60500–60999): a worker kills every process of its
    // range, so two stacks sharing one (--against) killed each other's sandboxes, until workers
    // learnt to refuse a range another claims.
    SANDBOX_UID: String(60_000 + started.length * 500), SANDBOX_UID_COUNT: '500',
  };
  const ports: Record<ServiceName, number> = { api: portBase + 1, 's3-ingest': portBase + 2, dispatcher: portBase + 4, worker: portBase + 5 };
  const stack = new StackClass({ env, ports, output: 'pipe' });
  const url = new URL(`${stack.url('api')}/2015-03-31/functions/noop/invocations`);
  const streamUrl = new URL(`${stack.url('api')}/2021-11-15/functions/bulk/response-streaming-invocations`);
  // Listed before it starts, so that a stack that fails half-way is still stopped and removed.
  const target: Target = { url, streamUrl, env, stack };
  started.push(target);
  process.stdout.write(`starting a stack (isolated names ${id})…\n`);
  await stack.start();
  const lambda = new LambdaClient({ endpoint: stack.url('api'), region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: 'noop', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::000000000000:role/bench', Handler: 'index.handler',
      Code: { ZipFile: zipSync({ 'index.js': strToU8(HANDLER_SOURCE) }) },
    }),
  );
  await lambda.send(new InvokeCommand({ FunctionName: 'noop', Payload: strToU8('{}') }));
  if (STREAMS > 0) {
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'bulk', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::000000000000:role/bench', Handler: 'index.handler',
        MemorySize: 512, Timeout: 60, Code: { ZipFile: zipSync({ 'index.js': strToU8(STREAM_SOURCE) }) },
      }),
    );
  }
  lambda.destroy();
  return target;
};

/** Streams, queues and unpacked code of a bench stack. */
const removeResources = async (env: Record<string, string>): Promise<void> => {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const { rm } = await import('node:fs/promises');
  const nc = await connect({ servers: '127.0.0.1:4222' });
  const jsm = await jetstreamManager(nc);
  for (const s of [env['EVENTS_STREAM'], `KV_${env['FUNCTIONS_BUCKET']}`, `KV_${env['TRIGGERS_BUCKET']}`, `OBJ_${env['CODE_STORE']}`, `OBJ_${env['PAYLOAD_STORE']}`]) {
    await jsm.streams.delete(String(s)).catch(() => false);
  }
  await nc.close();
  const { Redis } = await import('ioredis');
  const redis = new Redis('redis://127.0.0.1:6379');
  await deleteKeysUnder(redis, String(env['QUEUE_PREFIX']));
  redis.disconnect();
  if (env['CODE_DIR']) await rm(env['CODE_DIR'], { recursive: true, force: true });
};

const f = (n: number) => n.toFixed(2);
const row = (clients: number | string, label: string, x: Figures) => `| ${clients} | ${label} | ${x.rps.toFixed(0)} | ${f(x.p50)} | ${f(x.p99)} |`;
const ratio = (clients: number | string, label: string, x: Figures, base: Figures) =>
  `| ${clients} | ${label} | ${(x.rps / base.rps).toFixed(3)} | ${(x.p50 / base.p50).toFixed(2)} | ${(x.p99 / base.p99).toFixed(2)} |`;

/** Labels of `sampleCpu` and their column titles, in the order an invocation passes them. */
const CPU_COLUMNS: [string, string][] = [
  ['bench client', 'client'],
  ['api', 'api'],
  ['nats-server', 'nats-server'],
  ['dispatcher', 'dispatcher'],
  ['redis-server', 'redis-server'],
  ['worker', 'worker'],
  ['worker children', 'sandbox'],
];

const targets: Target[] = [];
const baseline = await startBaseline();
const streamBaseline = await startStreamBaseline();
let bare: BarePipeline | undefined;
let direct: BarePipeline | undefined;
try {
  process.stdout.write('starting the bare pipelines…\n');
  bare = await startBarePipeline(19_050, HANDLER_SOURCE);
  direct = await startBarePipeline(19_051, HANDLER_SOURCE, { direct: true });
  const ours = await startTributary(Stack, 19_100, targets);
  let theirs: Target | undefined;
  if (values.against) {
    const checkout = resolve(values.against);
    const other = (await import(pathToFileURL(`${checkout}/tools/stack/dist/src/index.js`).href)) as { Stack: typeof Stack };
    theirs = await startTributary(other.Stack, 19_200, targets);
  }
  const baselineUrl = new URL(`http://127.0.0.1:${(baseline.address() as AddressInfo).port}/`);
  const servers = ['nats-server', 'redis-server'];
  const rootsOf = (target: Target, services: readonly ServiceName[]): Record<string, number> =>
    Object.fromEntries(services.map((s) => [s, target.stack.pid(s) ?? -1]));
  const stackWatched = (target: Target): Watched => ({ roots: { 'bench client': process.pid, ...rootsOf(target, ['api', 'dispatcher', 'worker']) }, servers });
  const driven: Array<Driven & { label: string }> = [
    { label: 'bare pipeline (same path and libraries, no product code)', url: bare.url, watched: { roots: { 'bench client': process.pid, ...bare.pids }, servers } },
    { label: 'bare direct path (core-NATS request to the worker; not our architecture)', url: direct.url, watched: { roots: { 'bench client': process.pid, ...direct.pids }, servers } },
    { label: theirs ? 'Tributary sync invoke (this checkout)' : 'Tributary sync invoke', url: ours.url, watched: stackWatched(ours) },
    ...(theirs ? [{ label: `Tributary sync invoke (${values.against})`, url: theirs.url, watched: stackWatched(theirs) }] : []),
  ];
  const rows: string[] = [];
  const cpuRows: string[] = [];
  const streamRows: string[] = [];
  let oneClient: { mine: Figures; floor: Figures } | undefined;
  for (const clients of LEVELS) {
    await measure(baselineUrl, clients, WARMUP);
    const base = await measure(baselineUrl, clients, REQUESTS);
    rows.push(row(clients, 'baseline (in-process http)', base));
    for (const { url } of driven) await measure(url, clients, WARMUP);
    const results = await interleaved(driven, clients, REQUESTS);
    const [minimal, , mine, other] = results;
    if (!minimal || !mine) throw new Error('a target was not measured');
    if (clients === 1) oneClient = { mine, floor: minimal };
    driven.forEach((target, i) => {
      const result = results[i];
      if (!result) return;
      rows.push(row(clients, target.label, result));
      const cells = CPU_COLUMNS.map(([name]) => result.cpu.get(name) ?? 0);
      cpuRows.push(`| ${clients}, ${target.label.replace(/ \(.*no product code\)| \(core-NATS.*\)/, '')} | ${cells.map(f).join(' | ')} | ${f(cells.reduce((a, b) => a + b, 0))} |`);
    });
    const name = theirs ? 'this checkout' : 'Tributary';
    rows.push(ratio(clients, `ratio ${name} / baseline`, mine, base), ratio(clients, `ratio ${name} / bare pipeline`, mine, minimal));
    if (other) rows.push(ratio(clients, `ratio this checkout / ${values.against}`, mine, other));
  }
  if (PACE_MS > 0) {
    // Already warm from the rows above. req/s here counts the pauses: read p50 and p99.
    const paced = `1, ${PACE_MS} ms apart`;
    const base = await drive(baselineUrl, 1, PACED, PACE_MS);
    rows.push(row(paced, 'baseline (in-process http)', figures(base.latencies, base.seconds)));
    const results = await interleaved(driven, 1, PACED, PACE_MS);
    driven.forEach((target, i) => {
      const result = results[i];
      if (result) rows.push(row(paced, target.label, result));
    });
    const [minimal, , mine, other] = results;
    if (!minimal || !mine) throw new Error('a target was not measured');
    const name = theirs ? 'this checkout' : 'Tributary';
    rows.push(ratio(paced, `ratio ${name} / bare pipeline`, mine, minimal));
    if (other) rows.push(ratio(paced, `ratio this checkout / ${values.against}`, mine, other));
  }
  if (STREAMS > 0) {
    // Alternately, in a new order each round; the first round warms up and is not counted.
    const streamed: Array<{ label: string; url: URL; runs: Array<{ first: number; whole: number; bytes: number }> }> = [
      { label: 'baseline (bare http server writing the same)', url: new URL(`http://127.0.0.1:${(streamBaseline.address() as AddressInfo).port}/`), runs: [] },
      { label: theirs ? 'Tributary InvokeWithResponseStream (this checkout)' : 'Tributary InvokeWithResponseStream', url: ours.streamUrl, runs: [] },
      ...(theirs ? [{ label: `Tributary InvokeWithResponseStream (${values.against})`, url: theirs.streamUrl, runs: [] }] : []),
    ];
    const body = JSON.stringify({ mb: STREAM_MB });
    for (let round = 0; round <= STREAMS; round++) {
      for (const target of shuffled(streamed)) {
        const run = await streamOnce(target.url, body);
        if (run.bytes < STREAM_MB * 1024 * 1024) throw new Error(`${target.label}: ${run.bytes} bytes streamed, fewer than ${STREAM_MB} MB`);
        if (round > 0) target.runs.push(run);
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const [base, mine, other] = streamed.map((t) => ({ label: t.label, first: median(t.runs.map((r) => r.first)), whole: median(t.runs.map((r) => r.whole)) }));
    if (!base || !mine) throw new Error('a streaming target was not measured');
    const line = (x: { label: string; first: number; whole: number }) => `| ${x.label} | ${f(x.first)} | ${f(x.whole)} | ${((STREAM_MB * 1000) / x.whole).toFixed(0)} |`;
    streamRows.push(...[base, mine, ...(other ? [other] : [])].map(line));
    streamRows.push(`| ratio ${theirs ? 'this checkout' : 'Tributary'} / baseline | ${(mine.first / base.first).toFixed(2)} | ${(mine.whole / base.whole).toFixed(2)} | ${(base.whole / mine.whole).toFixed(3)} |`);
    if (other) streamRows.push(`| ratio this checkout / ${values.against} | ${(mine.first / other.first).toFixed(2)} | ${(mine.whole / other.whole).toFixed(2)} | ${(other.whole / mine.whole).toFixed(3)} |`);
  }
  const pacedHow = PACE_MS > 0 ? `; the paced rows ${PACED} requests from one client that waits ${PACE_MS} ms after each answer` : '';
  const how = `; the pipelines${theirs ? ' and the two checkouts' : ''} alternate in blocks of ${BLOCK}${pacedHow}`;
  process.stdout.write(`\n${REQUESTS} requests per row after ${WARMUP} warm-up, warm no-op function, raw keep-alive HTTP client for all${how}\n\n`);
  process.stdout.write('| clients | target | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|\n');
  process.stdout.write(`${rows.join('\n')}\n`);
  if (streamRows.length > 0) {
    process.stdout.write(`\nA streamed answer of ${STREAM_MB} MB read as fast as it comes (raw HTTP client; median of ${STREAMS}, alternating)\n\n`);
    process.stdout.write(`| target | first byte ms | whole ms | MB/s |\n|---|---|---|---|\n${streamRows.join('\n')}\n`);
  }
  // The whole machine's nats-server and redis-server are counted: other work on them shows here.
  process.stdout.write(`\nCPU time per invocation in ms, by process (from /proc, around each block of the same run; nats-server and redis-server are the machine's, shared with anything else using them)\n\n`);
  process.stdout.write(`| clients | ${CPU_COLUMNS.map(([, title]) => title).join(' | ')} | total |\n|${'---|'.repeat(CPU_COLUMNS.length + 2)}\n${cpuRows.join('\n')}\n`);
  // Idle after the runs: the sandboxes they warmed are still in the pools, as after real traffic.
  const services = (target: Target): Watched => ({ roots: rootsOf(target, ['api', 's3-ingest', 'dispatcher', 'worker']), servers: [] });
  const idle = await idleCpu(
    [
      { label: 'bare pipeline', watched: { roots: bare.pids, servers: [] } },
      { label: theirs ? 'Tributary (this checkout)' : 'Tributary', watched: services(ours) },
      ...(theirs ? [{ label: `Tributary (${values.against})`, watched: services(theirs) }] : []),
    ],
    IDLE_SECONDS,
  );
  const IDLE_COLUMNS = ['api', 's3-ingest', 'dispatcher', 'worker', 'worker children', 'nats-server', 'redis-server'];
  process.stdout.write(`\nCPU while idle, in ms per second, by process (${IDLE_SECONDS} s with nothing invoked, after the runs; warm sandboxes under "sandbox")\n\n`);
  process.stdout.write(`| target | api | s3-ingest | dispatcher | worker | sandbox | nats-server | redis-server | total |\n|${'---|'.repeat(IDLE_COLUMNS.length + 2)}\n`);
  for (const { label, cpu } of idle) {
    const cells = IDLE_COLUMNS.map((name) => cpu.get(name));
    const total = cells.reduce<number>((a, b) => a + (b ?? 0), 0);
    process.stdout.write(`| ${label} | ${cells.map((c) => (c === undefined ? '—' : f(c))).join(' | ')} | ${f(total)} |\n`);
  }
  const verdict = oneClient
    ? `: ${oneClient.mine.p50 <= 3 ? 'met' : 'not met'} in this run (p50 ${f(oneClient.mine.p50)} ms; the bare prescribed path, the floor of this architecture here and now, ${f(oneClient.floor.p50)} ms)`
    : '';
  process.stdout.write(`\ntarget: p50 ≤ 3 ms from one client${verdict}\n`);
} finally {
  agent.destroy();
  baseline.close();
  streamBaseline.close();
  await bare?.stop();
  await direct?.stop();
  for (const t of targets) {
    await t.stack.stop('SIGTERM');
    await removeResources(t.env);
  }
}
