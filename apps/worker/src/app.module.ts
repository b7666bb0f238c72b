import { Inject, Logger, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { functionLogSubject } from '@tributary/contracts';
import { NatsClient, NatsModule } from '@tributary/nats';
import { HealthRegistry, ObservabilityModule } from '@tributary/observability';
import { FunctionWorkers } from '@tributary/queue';
import { FunctionRegistry, RegistryModule } from '@tributary/registry';
import { SandboxPool } from '@tributary/runtime';
import type { WorkerConfig } from './worker.config.js';
import { InvocationProcessor, WORKER_IDENTITY } from './invocations/invocation.processor.js';
import { WORK_SETTINGS, WorkListener } from './invocations/work.listener.js';

const REDIS = Symbol('REDIS');

class RedisLifecycle implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Environment every sandbox gets on top of the Lambda variables: the object store and role credentials. */
const sandboxEnvironment = (config: WorkerConfig): Record<string, string> => ({
  ...(config.AWS_ENDPOINT_URL_S3 ? { AWS_ENDPOINT_URL_S3: config.AWS_ENDPOINT_URL_S3 } : {}),
  ...(config.FUNCTION_ACCESS_KEY_ID ? { AWS_ACCESS_KEY_ID: config.FUNCTION_ACCESS_KEY_ID } : {}),
  ...(config.FUNCTION_SECRET_ACCESS_KEY ? { AWS_SECRET_ACCESS_KEY: config.FUNCTION_SECRET_ACCESS_KEY } : {}),
});

@Module({})
export class AppModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    const identity = { region: config.AWS_REGION, accountId: config.TRIBUTARY_ACCOUNT_ID };
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot('worker'),
        NatsModule.forRoot({
          url: config.NATS_URL,
          token: config.NATS_TOKEN,
          service: 'tributary-worker',
          names: config.names,
          inlinePayloadBytes: config.INLINE_PAYLOAD_BYTES,
        }),
        RegistryModule.forRoot(config.names),
      ],
      providers: [
        { provide: WORKER_IDENTITY, useValue: identity },
        { provide: WORK_SETTINGS, useValue: { subjectPrefix: config.SUBJECT_PREFIX, shutdownGraceMs: config.SHUTDOWN_GRACE_MS } },
        {
          provide: REDIS,
          inject: [HealthRegistry],
          useFactory: (health: HealthRegistry) => {
            // BullMQ workers block on Redis: they need commands that wait out a reconnect.
            const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
            health.register('redis', () => redis.status === 'ready');
            return redis;
          },
        },
        {
          provide: SandboxPool,
          inject: [FunctionRegistry, NatsClient],
          useFactory: (registry: FunctionRegistry, nats: NatsClient) => {
            const logger = new Logger('Sandbox');
            return new SandboxPool({
              codeDir: config.CODE_DIR,
              fetchCode: (codeKey) => registry.getCode(codeKey),
              region: config.AWS_REGION,
              idleTimeoutMs: config.WORKER_IDLE_SANDBOX_MS,
              baseEnvironment: sandboxEnvironment(config),
              // Each invocation's log goes to a subject anyone can follow (`nats sub '<prefix>.logs.>'`).
              onLog: (spec, _requestId, text) => nats.nc.publish(functionLogSubject(spec.name, config.SUBJECT_PREFIX), text),
              logger,
            });
          },
        },
        InvocationProcessor,
        {
          provide: FunctionWorkers,
          inject: [REDIS, InvocationProcessor],
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
        RedisLifecycle,
      ],
    };
  }
}
