import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DurableConsumer, NatsClient, terminate } from '@tributary/nats';
import { IngestError, WebhookService } from './webhook.service.js';

export const NATS_NOTIFY_SETTINGS = Symbol('NATS_NOTIFY_SETTINGS');
export interface NatsNotifySettings {
  stream: string;
  subject: string;
  duplicateWindowMs: number;
}

/**
 * The store's NATS target: notifications published with JetStream into a stream Tributary reads,
 * so none is lost while s3-ingest is down. Same payloads as the webhook; the connection's
 * credentials stand in for the token.
 */
@Injectable()
export class NatsNotificationsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(NatsNotificationsConsumer.name);
  private consumer?: DurableConsumer;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(WebhookService) private readonly ingest: WebhookService,
    @Inject(NATS_NOTIFY_SETTINGS) private readonly settings: NatsNotifySettings,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { stream, subject, duplicateWindowMs } = this.settings;
    const ensureStream = () => this.nats.ensureEventsStream(stream, [subject], duplicateWindowMs);
    this.consumer = new DurableConsumer(this.nats, { stream, durable: 's3-ingest', ackWaitMs: 30_000, concurrency: 16 }, ensureStream);
    await this.consumer.start(async (msg) => {
      try {
        await this.ingest.ingest(Buffer.from(msg.data));
        msg.ack();
      } catch (error) {
        // Trouble on our side (NATS, say) is redelivered with the consumer's backoff.
        if (!(error instanceof IngestError) || error.status >= 500) throw error;
        this.logger.warn({ msg: `notification dropped: ${error.message}`, subject: msg.subject, seq: msg.seq });
        terminate(msg);
      }
    });
    this.logger.log(`reading store notifications from ${subject} (stream ${stream})`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
