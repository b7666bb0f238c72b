import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DurableConsumer, NatsClient, type DurableConsumerOptions } from '@tributary/nats';
import { HealthRegistry } from '@tributary/observability';
import { DispatchService } from './dispatch.service.js';

export const CONSUMER_OPTIONS = Symbol('CONSUMER_OPTIONS');
export interface EventsConsumerOptions extends DurableConsumerOptions {
  subjects: string[];
  duplicateWindowMs: number;
}

/** Reads the events stream through the dispatcher's durable consumer. */
@Injectable()
export class EventsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(EventsConsumer.name);
  private consumer?: DurableConsumer;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(DispatchService) private readonly dispatch: DispatchService,
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
    @Inject(CONSUMER_OPTIONS) private readonly options: EventsConsumerOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const ensureStream = () => this.nats.ensureEventsStream(this.options.stream, this.options.subjects, this.options.duplicateWindowMs);
    this.consumer = new DurableConsumer(this.nats, this.options, ensureStream);
    await this.consumer.start((msg) => this.dispatch.handle(msg));
    this.health.register('events-consumer', () => this.consumer?.consuming === true);
    this.logger.log(`consuming ${this.options.stream} as ${this.options.durable}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.logger.log('stopping: finishing in-flight events, handing back the rest');
    await this.consumer?.stop();
    // No more jobs will be queued here: what was held back for the end of an interval goes now,
    // while the connection is still open.
    this.dispatch.flushAnnouncements();
  }
}
