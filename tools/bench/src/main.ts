// `npm run bench`: a warm no-op function invoked through the Lambda API, from 1 and from 10
// concurrent clients, beside the same handler called in-process behind a bare Node http server.
// Figures are reported with their ratio to that baseline, measured in the same run.
import { randomBytes } from 'node:crypto';
import { createServer, request, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { CreateFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { zipSync, strToU8 } from 'fflate';
import { Stack } from '@tributary/stack';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '1,10' },
  },
});
const REQUESTS = Number(values.requests);
const WARMUP = Number(values.warmup);
const LEVELS = String(values.concurrency).split(',').map(Number);

const HANDLER_SOURCE = 'exports.handler = async (event) => ({ ok: true, echo: event.n });';
// The baseline runs the very same handler, in-process.
const handler = async (event: { n?: number }) => ({ ok: true, echo: event.n });

interface Figures {
  rps: number;
  p50: number;
  p99: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

const post = (url: URL, body: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

const measure = async (url: URL, clients: number, total: number): Promise<Figures> => {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        next += 1;
        latencies.push(await post(url, JSON.stringify({ n: next })));
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: total / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
};

const id = `bench_${randomBytes(4).toString('hex')}`;
const env = {
  EVENTS_STREAM: `${id}_EVENTS`, EVENTS_SUBJECT_ROOT: `${id}.events`, DISPATCHER_CONSUMER: `${id}_dispatcher`,
  FUNCTIONS_BUCKET: `${id}_functions`, TRIGGERS_BUCKET: `${id}_triggers`, CODE_STORE: `${id}_code`, PAYLOAD_STORE: `${id}_payloads`,
  QUEUE_PREFIX: `${id}_q`, SUBJECT_PREFIX: `${id}.trib`, LOG_LEVEL: 'warn',
};
const ports = { api: 19_101, 's3-ingest': 19_102, dispatcher: 19_104, worker: 19_105 };
const stack = new Stack({ env, ports, output: 'pipe' });
const baseline = await startBaseline();
try {
  process.stdout.write(`starting the stack (isolated names ${id})…\n`);
  await stack.start();
  const lambda = new LambdaClient({ endpoint: stack.url('api'), region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: 'noop', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::000000000000:role/bench', Handler: 'index.handler',
      Code: { ZipFile: zipSync({ 'index.js': strToU8(HANDLER_SOURCE) }) },
    }),
  );
  await lambda.send(new InvokeCommand({ FunctionName: 'noop', Payload: strToU8('{}') }));
  lambda.destroy();

  const tributaryUrl = new URL(`${stack.url('api')}/2015-03-31/functions/noop/invocations`);
  const baselineUrl = new URL(`http://127.0.0.1:${(baseline.address() as AddressInfo).port}/`);
  const rows: string[] = [];
  for (const clients of LEVELS) {
    await measure(baselineUrl, clients, WARMUP);
    const base = await measure(baselineUrl, clients, REQUESTS);
    await measure(tributaryUrl, clients, WARMUP);
    const trib = await measure(tributaryUrl, clients, REQUESTS);
    const f = (n: number) => n.toFixed(2);
    rows.push(
      `| ${clients} | baseline (in-process http) | ${base.rps.toFixed(0)} | ${f(base.p50)} | ${f(base.p99)} |`,
      `| ${clients} | Tributary sync invoke | ${trib.rps.toFixed(0)} | ${f(trib.p50)} | ${f(trib.p99)} |`,
      `| ${clients} | ratio Tributary / baseline | ${(trib.rps / base.rps).toFixed(3)} | ${(trib.p50 / base.p50).toFixed(1)} | ${(trib.p99 / base.p99).toFixed(1)} |`,
    );
  }
  process.stdout.write(`\n${REQUESTS} requests per row after ${WARMUP} warm-up, warm no-op function, raw keep-alive HTTP client for both\n\n`);
  process.stdout.write('| clients | target | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|\n');
  process.stdout.write(`${rows.join('\n')}\n`);
  process.stdout.write('\ntarget: p50 ≤ 3 ms from one client\n');
} finally {
  agent.destroy();
  baseline.close();
  await stack.stop('SIGTERM');
  // Remove the bench's streams and queues.
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: '127.0.0.1:4222' });
  const jsm = await jetstreamManager(nc);
  for (const s of [env.EVENTS_STREAM, `KV_${env.FUNCTIONS_BUCKET}`, `KV_${env.TRIGGERS_BUCKET}`, `OBJ_${env.CODE_STORE}`, `OBJ_${env.PAYLOAD_STORE}`]) await jsm.streams.delete(s).catch(() => false);
  await nc.close();
}
