import { loadConfigOrExit } from '@tributary/config';
import { startService } from '@tributary/observability';
import { WorkerConfig } from './worker.config.js';
import { AppModule } from './app.module.js';

const config = loadConfigOrExit('worker', WorkerConfig);
await startService({
  name: 'worker',
  module: AppModule.forRoot(config),
  config,
});
