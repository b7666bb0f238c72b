import { loadConfigOrExit } from '@tributary/config';
import { startService } from '@tributary/observability';
import { DispatcherConfig } from './dispatcher.config.js';
import { AppModule } from './app.module.js';

const config = loadConfigOrExit('dispatcher', DispatcherConfig);
await startService({
  name: 'dispatcher',
  module: AppModule.forRoot(config),
  config,
});
