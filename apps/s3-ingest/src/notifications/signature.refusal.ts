import type { FastifyRequest } from 'fastify';
import type { SigV4Error, SigV4Failure } from '@tributary/auth';
import { isProbe, type Refusal } from '@tributary/observability';
import { S3Error } from '@tributary/s3';
import { s3ErrorAnswer } from './s3-error.filter.js';

/** S3's codes for each way a signature fails. */
const S3_CODE: Record<SigV4Failure, [code: string, status: number, message?: string]> = {
  missing: ['AccessDenied', 403, 'Access Denied'],
  malformed: ['AuthorizationHeaderMalformed', 400],
  'unknown-key': ['InvalidAccessKeyId', 403, 'The AWS Access Key Id you provided does not exist in our records.'],
  scope: ['AuthorizationHeaderMalformed', 400],
  expired: ['RequestTimeTooSkewed', 403],
  mismatch: ['SignatureDoesNotMatch', 403, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'],
  'body-hash': ['XAmzContentSHA256Mismatch', 400],
};

/**
 * Health, metrics and the webhook (MinIO cannot sign it; S3_INGEST_TOKEN guards it) take unsigned
 * calls, by method too: `PUT /events?notification` configures a bucket named `events`.
 */
export const openRoute = (request: FastifyRequest): boolean =>
  isProbe(request) || (request.method === 'POST' && /^\/events\/?(?:\?|$)/.test(request.url));

export const signatureRefusal = (error: SigV4Error, request: FastifyRequest): Refusal => {
  const [code, status, message] = S3_CODE[error.failure];
  return s3ErrorAnswer(new S3Error(code, message ?? error.message, status), request.url);
};

/** Too many bodies waiting for their signature: S3's SlowDown, which SDKs retry. */
export const signatureBusy = (request: FastifyRequest): Refusal => s3ErrorAnswer(new S3Error('SlowDown', 'Please reduce your request rate.', 503), request.url);
