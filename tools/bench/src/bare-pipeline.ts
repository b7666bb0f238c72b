// The bench's second baseline: the invoke path that ARCHITECTURE.md prescribes, built from the
// same libraries with nothing else on it — an HTTP server publishing to JetStream, a durable
// consumer adding BullMQ jobs, a BullMQ worker handing them to a child process over the Lambda
// Runtime API, and the answer back on a core-NATS reply subject. No validation, registry,
// metrics, logs or error handling: what Tributary costs above this is what its own code adds.
//
// `node bare-pipeline.js <api|dispatcher|worker>` runs one role; `startBarePipeline` starts all
// three as separate processes, as Tributary's services are.
//
// With `direct: true` it is the path ARCHITECTURE.md does *not* prescribe, for comparison: the
// HTTP server sends the invocation straight to a worker over core-NATS request/reply (no
// JetStream, dispatcher or BullMQ), the shape of a sync fast path.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, AckPolicy, type JsMsg } from '@nats-io/jetstream';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { deleteKeysUnder } from './redis-keys.js';

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
  const direct = process.env['BARE_DIRECT'] === '1';
  const server = createServer((req, res) => {
    void readBody(req)
      .then(async (payload) => {
        const requestId = randomUUID();
        if (direct) {
          const reply = await nc.request(`${id}.direct`, JSON.stringify({ requestId, payload }), { timeout: 10_000 });
          res.writeHead(200, { 'content-type': 'application/json' }).end(reply.data);
          return;
        }
        waiting.set(requestId, res);
        await js.publish(`${id}.events.invoke`, JSON.stringify({ requestId, payload, replyTo: `${inbox}.${requestId}` }), { msgID: requestId });
      })
      .catch((error: unknown) => res.writeHead(500).end(String(error)));
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
  for await (const msg of messages) handle(msg).catch(() => msg.nak());
};

interface Child {
  /** The runtime's pending GET /next, while it waits for work. */
  parked?: ServerResponse;
  /** An invocation handed to it before it asked for more. */
  waiting?: { requestId: string; payload: string };
  answer?: (body: string) => void;
}

const hand = (res: ServerResponse, requestId: string, payload: string): void => {
  res.writeHead(200, { 'lambda-runtime-aws-request-id': requestId, 'lambda-runtime-deadline-ms': String(Date.now() + 3000), 'content-type': 'application/json' }).end(payload);
};

const worker = async (): Promise<void> => {
  const id = env('BARE_ID');
  const nc = await connect({ servers: NATS });
  // As on Lambda, one child per invocation running at the same time, each with its Runtime API
  // server; a finished child takes the next invocation warm.
  const idle: Child[] = [];
  const spawnChild = async (): Promise<Child> => {
    const child: Child = {};
    let ready!: () => void;
    const parked = new Promise<void>((resolve) => (ready = resolve));
    const server = createServer((req, res) => {
      if (req.method === 'GET') {
        ready();
        const waiting = child.waiting;
        child.waiting = undefined;
        if (waiting) return hand(res, waiting.requestId, waiting.payload);
        child.parked = res;
        return;
      }
      void readBody(req).then((body) => {
        res.writeHead(202).end();
        child.answer?.(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const process_ = spawn(process.execPath, [env('BARE_BOOTSTRAP')], {
      cwd: env('BARE_TASK_ROOT'),
      stdio: 'ignore',
      env: { PATH: process.env['PATH'] ?? '', LAMBDA_TASK_ROOT: env('BARE_TASK_ROOT'), _HANDLER: 'index.handler', AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${(server.address() as AddressInfo).port}` },
    });
    process.on('exit', () => process_.kill());
    await parked;
    return child;
  };
  const run = (child: Child, requestId: string, payload: string): Promise<string> => {
    const answered = new Promise<string>((resolve) => (child.answer = resolve));
    const res = child.parked;
    child.parked = undefined;
    // A warm child may not have asked for more yet: it gets the invocation when it does.
    if (res) hand(res, requestId, payload);
    else child.waiting = { requestId, payload };
    return answered;
  };
  const invoke = async (requestId: string, payload: string): Promise<string> => {
    const child = idle.pop() ?? (await spawnChild());
    const body = await run(child, requestId, payload);
    idle.push(child);
    return body;
  };
  if (process.env['BARE_DIRECT'] === '1') {
    nc.subscribe(`${id}.direct`, {
      queue: 'workers',
      callback: (_error, msg) => {
        const { requestId, payload } = msg.json<{ requestId: string; payload: string }>();
        void invoke(requestId, payload).then((body) => msg.respond(body));
      },
    });
  } else {
    new Worker(
      `${id}-fn`,
      async (job) => {
        const { requestId, payload, replyTo } = job.data as { requestId: string; payload: string; replyTo: string };
        nc.publish(replyTo, await invoke(requestId, payload));
      },
      { connection: new Redis(REDIS, { maxRetriesPerRequest: null }), prefix: id, concurrency: 10 },
    );
  }
  process.send?.('ready');
};

export interface BarePipeline {
  url: URL;
  pids: Record<string, number>;
  stop(): Promise<void>;
}

/** Starts the roles with names of their own; `handlerSource` is the function's index.js. */
export const startBarePipeline = async (port: number, handlerSource: string, { direct = false } = {}): Promise<BarePipeline> => {
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
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : (c.once('exit', resolve), c.kill('SIGKILL'))))));
    await jsm.streams.delete(`${id}_EVENTS`).catch(() => false);
    await nc.close();
    const redis = new Redis(REDIS);
    await deleteKeysUnder(redis, id);
    redis.disconnect();
    await rm(taskRoot, { recursive: true, force: true });
  };
  try {
    for (const role of direct ? ['worker', 'api'] : ['worker', 'dispatcher', 'api']) {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), role], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, BARE_ID: id, PORT: String(port), BARE_TASK_ROOT: taskRoot, BARE_BOOTSTRAP: bootstrap, BARE_DIRECT: direct ? '1' : '0' },
      });
      children.push(child);
      pids[role] = child.pid ?? -1;
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`bare pipeline ${role} exited (${code}) before it was ready`)));
      });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: new URL(`http://127.0.0.1:${port}/`), pids, stop };
};

const role = process.argv[2];
if (process.argv[1] === fileURLToPath(import.meta.url) && role) {
  const roles: Record<string, () => Promise<void>> = { api, dispatcher, worker };
  const run = roles[role];
  if (!run) throw new Error(`unknown role ${role}`);
  await run();
}
