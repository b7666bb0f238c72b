// The bench's second baseline: the invoke path that ARCHITECTURE.md prescribes, built from the
// same libraries with nothing else on it — an HTTP server publishing to JetStream, a durable
// consumer adding BullMQ jobs, a BullMQ worker handing them to a child process over the Lambda
// Runtime API, and the answer back on a core-NATS reply subject. No validation, registry,
// metrics, logs or error handling: what Tributary costs above this is what its own code adds.
//
// `node bare-pipeline.js <api|dispatcher|worker>` runs one role; `startBarePipeline` starts all
// three as separate processes, as Tributary's services are.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, AckPolicy, type JsMsg } from '@nats-io/jetstream';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

export interface BarePipelineNames {
  id: string;
  port: number;
  taskRoot: string;
  bootstrap: string;
}

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

const NATS = process.env['NATS_URL'] ?? '127.0.0.1:4222';
const REDIS = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

const api = async (): Promise<void> => {
  const id = env('BARE_ID');
  const nc = await connect({ servers: NATS });
  const js = jetstream(nc);
  const inbox = `${id}.inbox`;
  const waiting = new Map<string, ServerResponse>();
  nc.subscribe(`${inbox}.*`, {
    callback: (_error, msg) => {
      const res = waiting.get(msg.subject.slice(inbox.length + 1));
      if (!res) return;
      waiting.delete(msg.subject.slice(inbox.length + 1));
      res.writeHead(200, { 'content-type': 'application/json' }).end(msg.data);
    },
  });
  const server = createServer((req, res) => {
    void readBody(req).then(async (payload) => {
      const requestId = randomUUID();
      waiting.set(requestId, res);
      await js.publish(`${id}.events.invoke`, JSON.stringify({ requestId, payload, replyTo: `${inbox}.${requestId}` }), { msgID: requestId });
    });
  });
  server.listen(Number(env('PORT')), '127.0.0.1', () => process.send?.('ready'));
};

const dispatcher = async (): Promise<void> => {
  const id = env('BARE_ID');
  const nc = await connect({ servers: NATS });
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(`${id}_EVENTS`, { durable_name: `${id}_d`, ack_policy: AckPolicy.Explicit });
  const consumer = await jetstream(nc).consumers.get(`${id}_EVENTS`, `${id}_d`);
  const queue = new Queue(`${id}-fn`, { connection: new Redis(REDIS, { maxRetriesPerRequest: null }), prefix: id });
  const messages = await consumer.consume({ max_messages: 128 });
  process.send?.('ready');
  const handle = async (msg: JsMsg): Promise<void> => {
    const event = msg.json<{ requestId: string }>();
    await queue.add('invoke', event, { jobId: event.requestId, removeOnComplete: true });
    msg.ack();
  };
  for await (const msg of messages) void handle(msg);
};

const worker = async (): Promise<void> => {
  const id = env('BARE_ID');
  const nc = await connect({ servers: NATS });
  // One warm child speaking the Runtime API; jobs wait their turn for it.
  let parked: ServerResponse | undefined;
  const queued: Array<{ requestId: string; payload: string }> = [];
  const answers = new Map<string, (body: string) => void>();
  const deliver = (): void => {
    const next = parked ? queued.shift() : undefined;
    if (!parked || !next) return;
    const res = parked;
    parked = undefined;
    res.writeHead(200, { 'lambda-runtime-aws-request-id': next.requestId, 'lambda-runtime-deadline-ms': String(Date.now() + 3000), 'content-type': 'application/json' }).end(next.payload);
  };
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      parked = res;
      return deliver();
    }
    void readBody(req).then((body) => {
      res.writeHead(202).end();
      answers.get(req.url?.split('/')[4] ?? '')?.(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const child = spawn(process.execPath, [env('BARE_BOOTSTRAP')], {
    cwd: env('BARE_TASK_ROOT'),
    stdio: 'ignore',
    env: { PATH: process.env['PATH'] ?? '', LAMBDA_TASK_ROOT: env('BARE_TASK_ROOT'), _HANDLER: 'index.handler', AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${(server.address() as AddressInfo).port}` },
  });
  process.on('exit', () => child.kill());
  new Worker(
    `${id}-fn`,
    async (job) => {
      const { requestId, payload, replyTo } = job.data as { requestId: string; payload: string; replyTo: string };
      const body = await new Promise<string>((resolve) => {
        answers.set(requestId, resolve);
        queued.push({ requestId, payload });
        deliver();
      });
      answers.delete(requestId);
      nc.publish(replyTo, body);
    },
    { connection: new Redis(REDIS, { maxRetriesPerRequest: null }), prefix: id, concurrency: 10 },
  );
  process.send?.('ready');
};

export interface BarePipeline {
  url: URL;
  pids: Record<string, number>;
  stop(): Promise<void>;
}

/** Starts the three roles with names of their own; `handlerSource` is the function's index.js. */
export const startBarePipeline = async (port: number, handlerSource: string): Promise<BarePipeline> => {
  const id = `barebench_${randomUUID().slice(0, 8)}`;
  const taskRoot = join('/tmp', id);
  await mkdir(taskRoot, { recursive: true });
  await writeFile(join(taskRoot, 'index.js'), handlerSource);
  const nc = await connect({ servers: NATS });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: `${id}_EVENTS`, subjects: [`${id}.events.>`] });
  const bootstrap = fileURLToPath(new URL('../../../../libs/runtime/dist/src/node-runtime/bootstrap.js', import.meta.url));
  const children: ChildProcess[] = [];
  const pids: Record<string, number> = {};
  for (const role of ['worker', 'dispatcher', 'api']) {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), role], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, BARE_ID: id, PORT: String(port), BARE_TASK_ROOT: taskRoot, BARE_BOOTSTRAP: bootstrap },
    });
    children.push(child);
    pids[role] = child.pid ?? -1;
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`bare pipeline ${role} exited (${code}) before it was ready`)));
    });
  }
  return {
    url: new URL(`http://127.0.0.1:${port}/`),
    pids,
    async stop() {
      await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : (c.once('exit', resolve), c.kill('SIGKILL'))))));
      await jsm.streams.delete(`${id}_EVENTS`).catch(() => false);
      await nc.close();
      const redis = new Redis(REDIS);
      for await (const keys of redis.scanStream({ match: `${id}:*`, count: 1000 })) {
        if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
      }
      redis.disconnect();
      const { rm } = await import('node:fs/promises');
      await rm(taskRoot, { recursive: true, force: true });
    },
  };
};

const role = process.argv[2];
if (process.argv[1] === fileURLToPath(import.meta.url) && role) {
  const roles: Record<string, () => Promise<void>> = { api, dispatcher, worker };
  const run = roles[role];
  if (!run) throw new Error(`unknown role ${role}`);
  await run();
}
