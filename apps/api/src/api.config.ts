import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { BaseConfig, WithApiCredentials, WithCodeCollection, WithHttp, WithObjectStore } from '@tributary/config';

/** With S3_ENDPOINT set, Code.S3Bucket/S3Key packages are read from that store (else from AWS S3). */
export class ApiConfig extends WithApiCredentials(WithObjectStore(WithCodeCollection(WithHttp(BaseConfig, 9001)))) {
  /** How long a sync invocation may wait for a free worker on top of the function's timeout. */
  @IsInt() @Min(0) @Max(900_000)
  SYNC_QUEUE_WAIT_MS: number = 30_000;

  /** Base URL this API is reached at from outside, for GetFunction's Code.Location (default: the request's Host). */
  @IsOptional() @Matches(/^https?:\/\/\S+$/, { message: 'must be an http(s) URL such as https://lambda.example.com' })
  PUBLIC_URL?: string;
}
