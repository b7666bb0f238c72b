import { loadConfigOrExit } from '@tributary/config';
import { startService } from '@tributary/observability';
import { DispatcherConfig } from './dispatcher.config.js';
import { AppModule } from './app.module.js';

const config = loadConfigOrExit('dispatcher', DispatcherConfig);
await startService({
  name: 'dispatcher',
  module: AppModule.forRoot(config),
  host: config.HOST,
  port: config.PORT,
  logLevel: config.LOG_LEVEL,
  shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
});
