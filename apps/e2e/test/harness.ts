import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { LambdaClient, type CreateFunctionCommandInput, type FunctionCode } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import S3rver from 's3rver';
import { functionQueueName } from '@tributary/contracts';
import { Stack, type ServiceName } from '@tributary/stack';
import { buildZip, isolatedEnvironment, removeIsolatedResources, sparePorts, waitFor, type CallbackListener } from '@tributary/testing';

export interface E2eStack {
  stack: Stack;
  lambda: LambdaClient;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** The whole stack as `npm start` runs it, on spare ports and with its own streams, buckets and queues. */
export const startE2eStack = async (extraEnv: Record<string, string> = {}): Promise<E2eStack> => {
  const env = { ...isolatedEnvironment(), LOG_LEVEL: 'warn', ...extraEnv };
  const ports: Record<ServiceName, number> = await sparePorts(['api', 's3-ingest', 'dispatcher', 'worker']);
  const stack = new Stack({ env, ports, output: 'pipe' });
  await stack.start();
  const lambda = new LambdaClient({
    endpoint: stack.url('api'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  return {
    stack,
    lambda,
    env,
    stop: async () => {
      lambda.destroy();
      await stack.stop('SIGKILL');
      await removeIsolatedResources(env);
    },
  };
};

/**
 * CreateFunction input with what the tests share (Node.js 20, `index.handler`, a role): the code
 * is index.js's source, a zip, or a Code member (S3Bucket/S3Key).
 */
export const functionInput = (
  name: string,
  code: string | Uint8Array | FunctionCode,
  extra: Omit<Partial<CreateFunctionCommandInput>, 'FunctionName' | 'Code'> = {},
): CreateFunctionCommandInput => ({
  FunctionName: name,
  Runtime: 'nodejs20.x',
  Role: 'arn:aws:iam::000000000000:role/r',
  Handler: 'index.handler',
  Code: typeof code === 'string' ? { ZipFile: buildZip({ 'index.js': code }) } : code instanceof Uint8Array ? { ZipFile: code } : code,
  ...extra,
});

/** Waits until the function's queue (on the stack's own Redis) holds nothing, so no late (duplicate) run can still arrive. */
export const queueSettled = async (e2e: E2eStack, fn: string): Promise<void> => {
  const queue = new Queue(functionQueueName(fn), { connection: { url: e2e.env['REDIS_URL'] ?? '' }, prefix: e2e.env['QUEUE_PREFIX'] ?? '' });
  try {
    await waitFor(
      `queue of ${fn} to empty`,
      async () => Object.values(await queue.getJobCounts('wait', 'prioritized', 'delayed', 'active')).every((n) => n === 0),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  } finally {
    await queue.close();
  }
};

/** How many times each event `i` reached the listener (handlers post `{ i, … }` as their side effect). */
export const runsPerEvent = (listener: CallbackListener): Map<number, number> => {
  const seen = new Map<number, number>();
  for (const r of listener.received) {
    const { i } = JSON.parse(r.body) as { i: number };
    seen.set(i, (seen.get(i) ?? 0) + 1);
  }
  return seen;
};

export const decode = (payload: Uint8Array | undefined): string => Buffer.from(payload ?? new Uint8Array()).toString('utf8');
export const encode = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

export interface TestStore {
  url: string;
  server: S3rver;
  /** Path-style client with s3rver's credentials (S3RVER/S3RVER). */
  client: S3Client;
  stop(): Promise<void>;
}

/** An S3-compatible store (s3rver) on a spare port with these buckets, in a directory of its own. */
export const startS3rver = async (buckets: string[]): Promise<TestStore> => {
  const dir = await mkdtemp(join(tmpdir(), 'trib-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: buckets.map((name) => ({ name, configs: [] })) });
  const { port } = (await server.run()) as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    // s3rver predates the SDK's default checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    url,
    server,
    client,
    stop: async () => {
      client.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
};
