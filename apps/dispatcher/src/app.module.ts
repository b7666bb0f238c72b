import { Inject, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { eventsStreamSubjects } from '@tributary/contracts';
import { NatsModule } from '@tributary/nats';
import { ObservabilityModule } from '@tributary/observability';
import { InvocationQueues, REDIS_CONNECTION, RedisModule } from '@tributary/queue';
import { FunctionRegistry, RegistryModule } from '@tributary/registry';
import type { DispatcherConfig } from './dispatcher.config.js';
import { DISPATCH_SETTINGS, DispatchService } from './events/dispatch.service.js';
import { CONSUMER_OPTIONS, EventsConsumer } from './events/events.consumer.js';

class QueuesLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private stopForgetting?: () => void;

  constructor(
    @Inject(InvocationQueues) private readonly queues: InvocationQueues,
    @Inject(FunctionRegistry) private readonly registry: FunctionRegistry,
  ) {}

  onApplicationBootstrap(): void {
    this.stopForgetting = this.registry.onChange((name, entry) => {
      if (!entry) this.queues.forget(name);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopForgetting?.();
    await this.queues.close();
  }
}

@Module({})
export class AppModule {
  static forRoot(config: DispatcherConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot('dispatcher'),
        NatsModule.forService('dispatcher', config),
        RegistryModule.forRoot(config.names),
        // Fail a command fast while Redis is away, so the event is nak'ed and retried later.
        RedisModule.forRoot({ url: config.REDIS_URL, blocking: false }),
      ],
      providers: [
        {
          provide: InvocationQueues,
          inject: [REDIS_CONNECTION],
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
          useValue: {
            subjectPrefix: config.SUBJECT_PREFIX,
            region: config.AWS_REGION,
            accountId: config.TRIBUTARY_ACCOUNT_ID,
            announceIntervalMs: config.WORK_ANNOUNCE_INTERVAL_MS,
          },
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
