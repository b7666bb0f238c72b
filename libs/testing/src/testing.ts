import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import { zipSync, strToU8 } from 'fflate';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Redis } from 'ioredis';

export const TEST_NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
export const TEST_REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A short unique name usable as a stream, bucket, queue prefix or function name. */
export const uniqueName = (prefix = 't'): string => `${prefix}_${randomBytes(5).toString('hex')}`;

/**
 * Environment that gives a service its own stream, consumer, buckets, stores, queue prefix,
 * subjects and unpacked-code directory, so that tests running at the same time never see each other's work.
 */
/**
 * The sandbox users of test stacks, apart from those of a stack `npm start` runs on this machine
 * (60000–60999): a worker kills every process of its range as it starts, so two sharing one
 * kill each other's sandboxes. Group: SANDBOX_GID's default (nogroup).
 */
export const TEST_SANDBOX_USERS = { uid: 62_000, gid: 65_534, count: 200 } as const;

export const isolatedEnvironment = (id: string = uniqueName('t')): Record<string, string> => ({
  EVENTS_STREAM: `${id}_EVENTS`,
  EVENTS_SUBJECT_ROOT: `${id}.events`,
  DISPATCHER_CONSUMER: `${id}_dispatcher`,
  FUNCTIONS_BUCKET: `${id}_functions`,
  TRIGGERS_BUCKET: `${id}_triggers`,
  CODE_STORE: `${id}_code`,
  PAYLOAD_STORE: `${id}_payloads`,
  QUEUE_PREFIX: `${id}_q`,
  SUBJECT_PREFIX: `${id}.trib`,
  S3_NOTIFY_STREAM: `${id}_S3N`,
  S3_NOTIFY_SUBJECT: `${id}.s3n`,
  CODE_DIR: join(tmpdir(), `tributary-code-${id}`),
  SANDBOX_TMP_DIR: join(tmpdir(), `tributary-sandbox-tmp-${id}`),
  SANDBOX_UID: String(TEST_SANDBOX_USERS.uid),
  SANDBOX_UID_COUNT: String(TEST_SANDBOX_USERS.count),
  NATS_URL: TEST_NATS_URL,
  REDIS_URL: TEST_REDIS_URL,
});

/** Removes what an isolated environment created: JetStream streams (KV and object stores are streams too), queues, unpacked code. */
export const removeIsolatedResources = async (env: Record<string, string>): Promise<void> => {
  const nc = await connect({ servers: TEST_NATS_URL.replace(/^nats:\/\//, '') });
  try {
    const jsm = await jetstreamManager(nc);
    const streams = [
      env['EVENTS_STREAM'],
      env['S3_NOTIFY_STREAM'],
      `KV_${env['FUNCTIONS_BUCKET']}`,
      `KV_${env['TRIGGERS_BUCKET']}`,
      `OBJ_${env['CODE_STORE']}`,
      `OBJ_${env['PAYLOAD_STORE']}`,
    ].filter((s): s is string => Boolean(s));
    await Promise.all(streams.map((s) => jsm.streams.delete(s).catch(() => false)));
  } finally {
    await nc.close();
  }
  const prefix = env['QUEUE_PREFIX'];
  if (prefix) await deleteRedisKeys(`${prefix}:*`);
  if (env['CODE_DIR']) await rm(env['CODE_DIR'], { recursive: true, force: true });
  if (env['SANDBOX_TMP_DIR']) await rm(env['SANDBOX_TMP_DIR'], { recursive: true, force: true });
};

/** Runs `each` on every batch of Redis keys matching a pattern (SCAN, never KEYS). */
const scanRedisKeys = async (pattern: string, each: (keys: string[], redis: Redis) => Promise<unknown>): Promise<void> => {
  const { Redis: Client } = await import('ioredis');
  const redis = new Client(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await each(keys, redis);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
};

/** Deletes Redis keys matching a pattern. */
export const deleteRedisKeys = (pattern: string): Promise<void> => scanRedisKeys(pattern, (keys, redis) => redis.unlink(...keys));

/** The Redis keys matching a pattern, sorted. */
export const listRedisKeys = async (pattern: string): Promise<string[]> => {
  const found: string[] = [];
  await scanRedisKeys(pattern, async (keys) => found.push(...keys));
  return [...new Set(found)].sort();
};

/** Waits until `probe` returns a truthy value, or fails with `what` after the deadline. */
export const waitFor = async <T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { timeoutMs = 10_000, intervalMs = 25 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
};

/**
 * A server a test runs itself (nats-server, redis-server) on a spare port, so that stopping it
 * under a running client disturbs nothing else on the machine.
 */
export interface ServerProcess {
  command: string;
  args: string[];
  port: number;
  process?: ChildProcess;
}

const accepting = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** Starts the server and waits until its port takes connections. */
export const startServer = async (server: ServerProcess): Promise<void> => {
  server.process = spawn(server.command, server.args, { stdio: 'ignore' });
  await waitFor(`${server.command} on ${server.port}`, () => accepting(server.port), { timeoutMs: 10_000, intervalMs: 50 });
};

/** SIGTERM, as a package upgrade or `docker compose restart` stops it, and waits for the exit. */
export const stopServer = async (server: ServerProcess): Promise<void> => {
  const running = server.process;
  if (!running || running.exitCode !== null) return;
  const exited = new Promise((resolve) => running.once('exit', resolve));
  running.kill('SIGTERM');
  await exited;
};

/** Unix mode bits in a zip entry's external attributes, as Info-ZIP's `zip` stores them (made on Unix). */
const unixFile = (mode: number) => ({ os: 3, attrs: ((0o100000 | mode) << 16) >>> 0 });

/** Builds a zip in memory from a map of file name → contents; the files named in `executable` get mode 755. */
export const buildZip = (files: Record<string, string>, executable: readonly string[] = []): Uint8Array =>
  zipSync(
    Object.fromEntries(
      Object.entries(files).map(([name, body]) => [name, executable.includes(name) ? [strToU8(body), unixFile(0o755)] : strToU8(body)]),
    ),
  );

export interface CallbackRequest {
  path: string;
  body: string;
}

/**
 * An HTTP listener on 127.0.0.1 that records what functions POST to it: the way a test observes
 * a function's side effect.
 */
export class CallbackListener {
  readonly received: CallbackRequest[] = [];
  private waiters: Array<() => void> = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<CallbackListener> {
    const server = createServer();
    const listener = new CallbackListener(server);
    server.on('request', (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        listener.received.push({ path: req.url ?? '/', body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
        for (const wake of listener.waiters.splice(0)) wake();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return listener;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once `count` requests have arrived in total. */
  async waitForCount(count: number, timeoutMs = 10_000): Promise<CallbackRequest[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} callbacks, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * `count` different TCP ports that were free a moment ago on 127.0.0.1. Each is held until all are
 * found: a port let go at once may be the next one the kernel hands out (two services of one
 * stack were given the same port that way, and one failed with EADDRINUSE).
 */
export const freePorts = async (count: number): Promise<number[]> => {
  const servers = Array.from({ length: count }, () => createServer());
  // Settled, all of them, before any is closed: one that failed must not leave another listening.
  const listened = await Promise.allSettled(servers.map((server) => new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))));
  const ports = servers.map((server) => (server.listening ? (server.address() as AddressInfo).port : 0));
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  const failed = listened.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return ports;
};

/** A TCP port that was free a moment ago on 127.0.0.1. */
export const freePort = async (): Promise<number> => (await freePorts(1))[0] as number;

/** A spare port for each of `names`, all different. */
export const sparePorts = async <Name extends string>(names: readonly Name[]): Promise<Record<Name, number>> => {
  const ports = await freePorts(names.length);
  return Object.fromEntries(names.map((name, i) => [name, ports[i]])) as Record<Name, number>;
};

/** Messages currently stored in a JetStream stream (0 when it does not exist). */
export const streamMessageCount = async (stream: string): Promise<number> => {
  const nc = await connect({ servers: TEST_NATS_URL.replace(/^nats:\/\//, '') });
  try {
    const jsm = await jetstreamManager(nc);
    return await jsm.streams.info(stream).then((i) => i.state.messages, () => 0);
  } finally {
    await nc.close();
  }
};

/** A durable consumer's deliveries still waiting for an ack, its pending redeliveries, and every delivery past a message's first. */
export const consumerDeliveries = async (stream: string, durable: string): Promise<{ ackPending: number; redelivered: number; deliveriesAgain: number }> => {
  const nc = await connect({ servers: TEST_NATS_URL.replace(/^nats:\/\//, '') });
  try {
    const info = await (await jetstreamManager(nc)).consumers.info(stream, durable);
    // num_redelivered counts only messages still pending: one given up after three deliveries
    // leaves it at 0. The consumer's sequence counts every delivery, the stream's each message once.
    return { ackPending: info.num_ack_pending, redelivered: info.num_redelivered, deliveriesAgain: info.delivered.consumer_seq - info.delivered.stream_seq };
  } finally {
    await nc.close();
  }
};

/** Publishes raw bytes on a JetStream subject and waits for the stream's ack. */
export const publishToStream = async (subject: string, data: string): Promise<void> => {
  const nc = await connect({ servers: TEST_NATS_URL.replace(/^nats:\/\//, '') });
  try {
    await jetstream(nc).publish(subject, data);
  } finally {
    await nc.close();
  }
};

/** Objects (not deleted) in a NATS object store; 0 when it does not exist. */
export const storedObjectCount = async (store: string): Promise<number> => {
  const nc = await connect({ servers: TEST_NATS_URL.replace(/^nats:\/\//, '') });
  try {
    const { Objm } = await import('@nats-io/obj');
    const opened = await new Objm(nc).open(store).catch(() => undefined);
    if (!opened) return 0;
    return (await opened.list()).filter((info) => !info.deleted).length;
  } finally {
    await nc.close();
  }
};

/** Number of Redis keys matching a pattern. */
export const countRedisKeys = async (pattern: string): Promise<number> => (await listRedisKeys(pattern)).length;

export interface Gate {
  /** GET here answers only once the gate is open. */
  url: string;
  open(): void;
  close(): Promise<void>;
}

/**
 * An HTTP endpoint a handler can wait at until the test opens it: proof of what the test saw
 * while the handler was still running (its first streamed bytes, say).
 */
export const startGate = async (): Promise<Gate> => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const server = createServer((_req, res) => void opened.then(() => res.end('open')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    open,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
