import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import {
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  type S3Client,
  type Event as S3EventName,
} from '@aws-sdk/client-s3';
import type { BucketNotification } from '@tributary/contracts';
import { S3Error, objectStoreClient, type ObjectStoreSettings } from '@tributary/s3';

export const STORE_SETTINGS = Symbol('STORE_SETTINGS');
export interface StoreSettings extends ObjectStoreSettings {
  notifyArn: string;
}

/** The id of the store-side notification entry Tributary owns; other entries are left alone. */
const ENTRY_ID = 'tributary';

/**
 * Makes the object store send a bucket's notifications to Tributary (for MinIO: its webhook or
 * NATS target ARN) whenever triggers are saved for that bucket.
 */
@Injectable()
export class StoreWiringService implements OnApplicationShutdown {
  private readonly logger = new Logger(StoreWiringService.name);
  private readonly client?: S3Client;

  constructor(@Inject(STORE_SETTINGS) private readonly settings: StoreSettings) {
    if (settings.endpoint) this.client = objectStoreClient(settings);
  }

  async wire(notification: BucketNotification): Promise<void> {
    if (!this.client || notification.lambda.length === 0) return;
    const events = [...new Set(notification.lambda.flatMap((t) => t.events))] as S3EventName[];
    const bucket = notification.bucket;
    try {
      const current = await this.client.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
      await this.client.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: bucket,
          NotificationConfiguration: {
            TopicConfigurations: current.TopicConfigurations,
            LambdaFunctionConfigurations: current.LambdaFunctionConfigurations,
            QueueConfigurations: [
              ...(current.QueueConfigurations ?? []).filter((q) => q.Id !== ENTRY_ID),
              { Id: ENTRY_ID, QueueArn: this.settings.notifyArn, Events: events },
            ],
          },
        }),
      );
      this.logger.log(`bucket ${bucket} at ${this.settings.endpoint} now notifies ${this.settings.notifyArn}`);
    } catch (error) {
      const e = error as { name?: string; message?: string };
      throw new S3Error(
        'ServiceUnavailable',
        `The object store at ${this.settings.endpoint} refused to send the notifications of bucket ${bucket} to Tributary (${this.settings.notifyArn}): ${e.name ?? 'Error'}: ${e.message ?? String(error)}`,
        503,
      );
    }
  }

  onApplicationShutdown(): void {
    this.client?.destroy();
  }
}
