import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { eventsStreamSubjects } from '@tributary/contracts';
import { NatsModule } from '@tributary/nats';
import { HealthRegistry, ObservabilityModule } from '@tributary/observability';
import { InvocationQueues } from '@tributary/queue';
import { RegistryModule } from '@tributary/registry';
import type { DispatcherConfig } from './dispatcher.config.js';
import { DISPATCH_SETTINGS, DispatchService } from './events/dispatch.service.js';
import { CONSUMER_OPTIONS, EventsConsumer } from './events/events.consumer.js';

const REDIS = Symbol('REDIS');

class QueuesLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(InvocationQueues) private readonly queues: InvocationQueues,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.queues.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Module({})
export class AppModule {
  static forRoot(config: DispatcherConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot('dispatcher'),
        NatsModule.forRoot({
          url: config.NATS_URL,
          token: config.NATS_TOKEN,
          service: 'tributary-dispatcher',
          names: config.names,
          inlinePayloadBytes: config.INLINE_PAYLOAD_BYTES,
        }),
        RegistryModule.forRoot(config.names),
      ],
      providers: [
        {
          provide: REDIS,
          inject: [HealthRegistry],
          useFactory: (health: HealthRegistry) => {
            // Fail a command fast while Redis is away, so the event is nak'ed and retried later.
            const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
            health.register('redis', () => redis.status === 'ready');
            return redis;
          },
        },
        {
          provide: InvocationQueues,
          inject: [REDIS],
          useFactory: (redis: Redis) =>
            new InvocationQueues({
              connection: redis,
              prefix: config.QUEUE_PREFIX,
              dedupeWindowMs: config.DEDUPE_WINDOW_MS,
              asyncAttempts: config.ASYNC_ATTEMPTS,
              asyncRetryDelayMs: config.ASYNC_RETRY_DELAY_MS,
            }),
        },
        {
          provide: DISPATCH_SETTINGS,
          useValue: { subjectPrefix: config.SUBJECT_PREFIX, region: config.AWS_REGION, accountId: config.TRIBUTARY_ACCOUNT_ID },
        },
        {
          provide: CONSUMER_OPTIONS,
          useValue: {
            stream: config.EVENTS_STREAM,
            durable: config.DISPATCHER_CONSUMER,
            subjects: eventsStreamSubjects(config.EVENTS_SUBJECT_ROOT),
            duplicateWindowMs: config.DEDUPE_WINDOW_MS,
            ackWaitMs: config.EVENTS_ACK_WAIT_MS,
            concurrency: config.DISPATCH_CONCURRENCY,
          },
        },
        QueuesLifecycle,
        DispatchService,
        EventsConsumer,
      ],
    };
  }
}
