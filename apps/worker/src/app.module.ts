import { Logger, Module, type DynamicModule } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { functionLogSubject } from '@tributary/contracts';
import { NatsClient, NatsModule } from '@tributary/nats';
import { ObservabilityModule } from '@tributary/observability';
import { FunctionWorkers, REDIS_CONNECTION, RedisModule } from '@tributary/queue';
import { FunctionRegistry, RegistryModule } from '@tributary/registry';
import { SandboxPool, fitLog } from '@tributary/runtime';
import type { WorkerConfig } from './worker.config.js';
import { InvocationProcessor, WORKER_IDENTITY } from './invocations/invocation.processor.js';
import { WORK_SETTINGS, WorkListener } from './invocations/work.listener.js';

/** Environment every sandbox gets on top of the Lambda variables: the object store, the Lambda API and role credentials. */
const sandboxEnvironment = (config: WorkerConfig): Record<string, string> => ({
  ...(config.AWS_ENDPOINT_URL_S3 ? { AWS_ENDPOINT_URL_S3: config.AWS_ENDPOINT_URL_S3 } : {}),
  ...(config.AWS_ENDPOINT_URL_LAMBDA ? { AWS_ENDPOINT_URL_LAMBDA: config.AWS_ENDPOINT_URL_LAMBDA } : {}),
  AWS_ACCESS_KEY_ID: config.FUNCTION_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: config.FUNCTION_SECRET_ACCESS_KEY,
  ...(config.FUNCTION_SESSION_TOKEN ? { AWS_SESSION_TOKEN: config.FUNCTION_SESSION_TOKEN } : {}),
});

@Module({})
export class AppModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    const identity = { region: config.AWS_REGION, accountId: config.TRIBUTARY_ACCOUNT_ID };
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot('worker'),
        NatsModule.forService('worker', config),
        RegistryModule.forRoot(config.names),
        RedisModule.forRoot({ url: config.REDIS_URL, blocking: true }),
      ],
      providers: [
        { provide: WORKER_IDENTITY, useValue: identity },
        {
          provide: WORK_SETTINGS,
          useValue: {
            subjectPrefix: config.SUBJECT_PREFIX,
            shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
            pendingSweepMs: config.WORKER_IDLE_QUEUE_MS,
            codeCollectionIntervalMs: config.CODE_GC_INTERVAL_MS,
            codeCollectionGraceMs: config.CODE_GC_GRACE_MS,
          },
        },
        {
          provide: SandboxPool,
          inject: [FunctionRegistry, NatsClient],
          useFactory: (registry: FunctionRegistry, nats: NatsClient) => {
            const logger = new Logger('Sandbox');
            return new SandboxPool({
              codeDir: config.CODE_DIR,
              tmpRoot: config.SANDBOX_TMP_DIR,
              ...(config.NODE_RUNTIMES_DIR ? { nodeRuntimesDir: config.NODE_RUNTIMES_DIR } : {}),
              fetchCode: (codeKey) => registry.getCode(codeKey),
              region: config.AWS_REGION,
              idleTimeoutMs: config.WORKER_IDLE_SANDBOX_MS,
              baseEnvironment: sandboxEnvironment(config),
              ...(process.getuid?.() === 0 && config.SANDBOX_UID !== 0 ? { runAs: { uid: config.SANDBOX_UID, gid: config.SANDBOX_GID, count: config.SANDBOX_UID_COUNT } } : {}),
              // Each invocation's log goes to a subject anyone can follow (`nats sub '<prefix>.logs.>'`),
              // its end kept when it is larger than a NATS message may be.
              onLog: (spec, _requestId, text) =>
                nats.nc.publish(functionLogSubject(spec.name, config.SUBJECT_PREFIX), fitLog(text, nats.maxPayload)),
              logger,
            });
          },
        },
        InvocationProcessor,
        {
          provide: FunctionWorkers,
          inject: [REDIS_CONNECTION, InvocationProcessor],
          useFactory: (redis: Redis, processor: InvocationProcessor) =>
            new FunctionWorkers({
              connection: redis,
              prefix: config.QUEUE_PREFIX,
              concurrency: config.WORKER_CONCURRENCY,
              idleMs: config.WORKER_IDLE_QUEUE_MS,
              lockDurationMs: config.WORKER_LOCK_MS,
              stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
              processor: (job) => processor.process(job),
            }),
        },
        WorkListener,
      ],
    };
  }
}
