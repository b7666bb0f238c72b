import { IsOptional, IsString, MinLength } from 'class-validator';
import { BaseConfig, WithHttp } from '@tributary/config';

export class S3IngestConfig extends WithHttp(BaseConfig, 9002) {
  /** When set, `POST /events` requires `Authorization: Bearer <token>` (MinIO's webhook `auth_token`). */
  @IsOptional() @IsString() @MinLength(8, { message: 'must be at least 8 characters' })
  S3_INGEST_TOKEN?: string;
}
