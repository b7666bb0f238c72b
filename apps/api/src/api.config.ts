import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { BaseConfig, WithCodeCollection, WithHttp, WithObjectStore } from '@tributary/config';

/** One or more `ACCESS_KEY_ID:SECRET` (a secret holds no comma). */
const CREDENTIAL_LIST = /^\s*[^\s:,]+:[^,]+(?:,\s*[^\s:,]+:[^,]+)*,?\s*$/;

/** With S3_ENDPOINT set, Code.S3Bucket/S3Key packages are read from that store (else from AWS S3). */
export class ApiConfig extends WithObjectStore(WithCodeCollection(WithHttp(BaseConfig, 9001))) {
  /** How long a sync invocation may wait for a free worker on top of the function's timeout. */
  @IsInt() @Min(0) @Max(900_000)
  SYNC_QUEUE_WAIT_MS: number = 30_000;

  /** Base URL this API is reached at from outside, for GetFunction's Code.Location (default: the request's Host). */
  @IsOptional() @Matches(/^https?:\/\/\S+$/, { message: 'must be an http(s) URL such as https://lambda.example.com' })
  PUBLIC_URL?: string;

  /**
   * Access keys whose SigV4 signatures the API accepts, as `ACCESS_KEY_ID:SECRET_ACCESS_KEY`
   * pairs separated by commas. Unset, the API takes every call unsigned, from anyone who can
   * reach its port.
   */
  @IsOptional() @Matches(CREDENTIAL_LIST, { message: 'must be ACCESS_KEY_ID:SECRET_ACCESS_KEY pairs separated by commas' })
  API_CREDENTIALS?: string;
}
