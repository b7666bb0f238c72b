import { IsString, Matches, MinLength, ValidateBy, ValidateIf, type ValidationArguments } from 'class-validator';
import { BaseConfig, WithApiCredentials, WithHttp, WithObjectStore } from '@tributary/config';

/** docker-compose.yml's stand-in token: public, so no guard once calls must be signed. */
const EXAMPLE_TOKEN = 'change-me-webhook-token';

/** With S3_ENDPOINT set, saving triggers also makes the store's bucket notify Tributary. */
export class S3IngestConfig extends WithApiCredentials(WithObjectStore(WithHttp(BaseConfig, 9002))) {
  /**
   * When set, `POST /events` requires `Authorization: Bearer <token>` (MinIO's webhook `auth_token`).
   * Required with API_CREDENTIALS: a webhook open to anyone would run functions for anyone.
   */
  @ValidateIf((config: S3IngestConfig) => config.S3_INGEST_TOKEN !== undefined || config.API_CREDENTIALS !== undefined)
  @IsString({ message: 'must be set when API_CREDENTIALS is (POST /events would otherwise take notifications, and run functions, for anyone)' })
  @MinLength(8, { message: 'must be at least 8 characters' })
  @ValidateBy({
    name: 'notTheExampleToken',
    validator: {
      validate: (value: unknown, args?: ValidationArguments) => (args?.object as S3IngestConfig | undefined)?.API_CREDENTIALS === undefined || value !== EXAMPLE_TOKEN,
      defaultMessage: () => `must be a token of your own when API_CREDENTIALS is set, not docker-compose.yml's example '${EXAMPLE_TOKEN}'`,
    },
  })
  S3_INGEST_TOKEN?: string;

  /** Stream that captures the object store's NATS notifications (MinIO's NATS target, JetStream on). */
  @Matches(/^[A-Za-z0-9_-]+$/) S3_NOTIFY_STREAM: string = 'S3_NOTIFICATIONS';

  /** Subject the store publishes its notifications on (MinIO: MINIO_NOTIFY_NATS_SUBJECT). */
  @Matches(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/) S3_NOTIFY_SUBJECT: string = 'tributary.s3.notifications';

  /** The store's ARN for Tributary's notification target (MinIO: arn:minio:sqs::<ID>:webhook). */
  @IsString()
  S3_NOTIFY_ARN: string = 'arn:minio:sqs::TRIBUTARY:webhook';
}
