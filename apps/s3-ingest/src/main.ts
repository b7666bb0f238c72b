import { loadConfigOrExit } from '@tributary/config';
import { startService } from '@tributary/observability';
import { S3IngestConfig } from './s3-ingest.config.js';
import { AppModule } from './app.module.js';

const config = loadConfigOrExit('s3-ingest', S3IngestConfig);
await startService({
  name: 's3-ingest',
  module: AppModule.forRoot(config),
  host: config.HOST,
  port: config.PORT,
  logLevel: config.LOG_LEVEL,
  shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
  bodyLimit: 10 * 1024 * 1024,
});
