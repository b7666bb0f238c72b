import { requireSignatures, verifierFromConfig } from '@tributary/auth';
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
const verifier = verifierFromConfig(config, { name: 'bucket-notification API', service: 's3', uriEscapePath: false });
await startService({
  name: 's3-ingest',
  module: AppModule.forRoot(config),
  config,
  bodyLimit: BODY_LIMIT,
  frameworkError: (_status, _message, url) => s3ErrorAnswer(new S3Error('InvalidURI', "Couldn't parse the specified URI."), url),
  configure: (fastify) => {
    refuseLargeBodies(fastify, (request, declared) => (declared > BODY_LIMIT ? s3ErrorAnswer(requestTooBig(), request.url) : undefined));
    if (!verifier) return [];
    return [requireSignatures(fastify, verifier, { open: openRoute, refuse: signatureRefusal, busy: signatureBusy, unverifiedBodyBytes: config.UNVERIFIED_BODY_BYTES, maxBodyBytes: BODY_LIMIT })];
  },
});
