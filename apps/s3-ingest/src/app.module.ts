import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { NatsClient, NatsModule } from '@tributary/nats';
import { ObservabilityModule } from '@tributary/observability';
import { RegistryModule } from '@tributary/registry';
import { eventsStreamSubjects } from '@tributary/contracts';
import type { S3IngestConfig } from './s3-ingest.config.js';
import { NOTIFICATION_IDENTITY, NotificationsController } from './notifications/notifications.controller.js';
import { INGEST_SETTINGS, WebhookService } from './notifications/webhook.service.js';
import { STORE_SETTINGS, StoreWiringService } from './notifications/store-wiring.service.js';
import { S3ErrorFilter } from './notifications/s3-error.filter.js';
import { NATS_NOTIFY_SETTINGS, NatsNotificationsConsumer } from './notifications/nats-notifications.consumer.js';

@Module({})
export class AppModule {
  static forRoot(config: S3IngestConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot('s3-ingest'),
        NatsModule.forService('s3-ingest', config),
        RegistryModule.forRoot(config.names),
      ],
      controllers: [NotificationsController],
      providers: [
        { provide: APP_FILTER, useClass: S3ErrorFilter },
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
        {
          provide: STORE_SETTINGS,
          useValue: {
            region: config.AWS_REGION,
            notifyArn: config.S3_NOTIFY_ARN,
            ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
            ...(config.S3_ACCESS_KEY_ID ? { accessKeyId: config.S3_ACCESS_KEY_ID } : {}),
            ...(config.S3_SECRET_ACCESS_KEY ? { secretAccessKey: config.S3_SECRET_ACCESS_KEY } : {}),
          },
        },
        StoreWiringService,
        {
          provide: NATS_NOTIFY_SETTINGS,
          useValue: { stream: config.S3_NOTIFY_STREAM, subject: config.S3_NOTIFY_SUBJECT, duplicateWindowMs: config.DEDUPE_WINDOW_MS },
        },
        NatsNotificationsConsumer,
        { provide: NOTIFICATION_IDENTITY, useValue: { region: config.AWS_REGION, accountId: config.TRIBUTARY_ACCOUNT_ID } },
      ],
    };
  }
}
