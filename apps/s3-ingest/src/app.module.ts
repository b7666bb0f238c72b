import { Module, type DynamicModule } from '@nestjs/common';
import { NatsClient, NatsModule } from '@tributary/nats';
import { ObservabilityModule } from '@tributary/observability';
import { RegistryModule } from '@tributary/registry';
import { eventsStreamSubjects } from '@tributary/contracts';
import type { S3IngestConfig } from './s3-ingest.config.js';
import { NotificationsController } from './notifications/notifications.controller.js';
import { INGEST_SETTINGS, WebhookService } from './notifications/webhook.service.js';

@Module({})
export class AppModule {
  static forRoot(config: S3IngestConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot('s3-ingest'),
        NatsModule.forRoot({
          url: config.NATS_URL,
          token: config.NATS_TOKEN,
          service: 'tributary-s3-ingest',
          names: config.names,
          inlinePayloadBytes: config.INLINE_PAYLOAD_BYTES,
        }),
        RegistryModule.forRoot(config.names),
      ],
      controllers: [NotificationsController],
      providers: [
        {
          provide: INGEST_SETTINGS,
          inject: [NatsClient],
          useFactory: async (nats: NatsClient) => {
            await nats.ensureEventsStream(config.EVENTS_STREAM, eventsStreamSubjects(config.EVENTS_SUBJECT_ROOT), config.DEDUPE_WINDOW_MS);
            return {
              eventsStream: config.EVENTS_STREAM,
              subjectRoot: config.EVENTS_SUBJECT_ROOT,
              region: config.AWS_REGION,
              ...(config.S3_INGEST_TOKEN ? { token: config.S3_INGEST_TOKEN } : {}),
            };
          },
        },
        WebhookService,
      ],
    };
  }
}
