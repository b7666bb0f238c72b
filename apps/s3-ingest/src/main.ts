import { loadConfigOrExit } from '@tributary/config';
import { startService } from '@tributary/observability';
import { S3IngestConfig } from './s3-ingest.config.js';
import { AppModule } from './app.module.js';

const config = loadConfigOrExit('s3-ingest', S3IngestConfig);
await startService({
  name: 's3-ingest',
  module: AppModule.forRoot(config),
  config,
  bodyLimit: 10 * 1024 * 1024,
});
