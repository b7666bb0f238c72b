import { loadConfigOrExit } from '@tributary/config';
import { startService } from '@tributary/observability';
import { WorkerConfig } from './worker.config.js';
import { AppModule } from './app.module.js';

const config = loadConfigOrExit('worker', WorkerConfig);
await startService({
  name: 'worker',
  module: AppModule.forRoot(config),
  host: config.HOST,
  port: config.PORT,
  logLevel: config.LOG_LEVEL,
  shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
});
