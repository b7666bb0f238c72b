import { Logger } from '@nestjs/common';
import { SigV4Verifier, parseCredentialList, requireSignatures } from '@tributary/auth';
import { loadConfigOrExit } from '@tributary/config';
import { refuseLargeBodies, startService } from '@tributary/observability';
import { S3Error } from '@tributary/s3';
import { S3IngestConfig } from './s3-ingest.config.js';
import { AppModule } from './app.module.js';
import { requestTooBig, s3ErrorAnswer } from './notifications/s3-error.filter.js';
import { openRoute, signatureBusy, signatureRefusal } from './notifications/signature.refusal.js';

/** Webhook batches and notification configurations both fit easily. */
const BODY_LIMIT = 10 * 1024 * 1024;

const config = loadConfigOrExit('s3-ingest', S3IngestConfig);
// S3 clients sign the path as it is (encoded once), unlike every other service.
const verifier = config.API_CREDENTIALS
  ? new SigV4Verifier({ service: 's3', region: config.AWS_REGION, credentials: parseCredentialList(config.API_CREDENTIALS), uriEscapePath: false })
  : undefined;
if (!verifier) new Logger('s3-ingest').warn(`API_CREDENTIALS is not set: the bucket-notification API on port ${config.PORT} takes unsigned calls from anyone who reaches it`);
await startService({
  name: 's3-ingest',
  module: AppModule.forRoot(config),
  config,
  bodyLimit: BODY_LIMIT,
  frameworkError: (_status, _message, url) => s3ErrorAnswer(new S3Error('InvalidURI', "Couldn't parse the specified URI."), url),
  configure: (fastify) => {
    refuseLargeBodies(fastify, (request, declared) => (declared > BODY_LIMIT ? s3ErrorAnswer(requestTooBig(), request.url) : undefined));
    if (verifier) {
      requireSignatures(fastify, verifier, { open: openRoute, refuse: signatureRefusal, busy: signatureBusy, unverifiedBodyBytes: config.UNVERIFIED_BODY_BYTES, maxBodyBytes: BODY_LIMIT });
    }
  },
});
