import { LambdaClient } from '@aws-sdk/client-lambda';
import { Stack, type ServiceName } from '@tributary/stack';
import { freePort, isolatedEnvironment, removeIsolatedResources } from '@tributary/testing';

export interface E2eStack {
  stack: Stack;
  lambda: LambdaClient;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** The whole stack as `npm start` runs it, on spare ports and with its own streams, buckets and queues. */
export const startE2eStack = async (extraEnv: Record<string, string> = {}): Promise<E2eStack> => {
  const env = { ...isolatedEnvironment(), LOG_LEVEL: 'warn', ...extraEnv };
  const ports: Record<ServiceName, number> = { api: await freePort(), 's3-ingest': await freePort(), dispatcher: await freePort(), worker: await freePort() };
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

export const decode = (payload: Uint8Array | undefined): string => Buffer.from(payload ?? new Uint8Array()).toString('utf8');
export const encode = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));
