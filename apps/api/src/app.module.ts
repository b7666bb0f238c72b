import { Module, type DynamicModule } from '@nestjs/common';
import type { SigV4Verifier } from '@tributary/auth';

import { NatsModule } from '@tributary/nats';
import { ObservabilityModule } from '@tributary/observability';
import { RegistryModule } from '@tributary/registry';
import type { ApiConfig } from './api.config.js';
import { FunctionsModule } from './functions/functions.module.js';

@Module({})
export class AppModule {
  /** `signing`: the verifier when calls must be signed (API_CREDENTIALS). */
  static forRoot(config: ApiConfig, signing?: SigV4Verifier): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot('api'),
        NatsModule.forService('api', config),
        RegistryModule.forRoot(config.names),
        FunctionsModule.forRoot({
          identity: { region: config.AWS_REGION, accountId: config.TRIBUTARY_ACCOUNT_ID },
          invocation: {
            eventsStream: config.EVENTS_STREAM,
            subjectRoot: config.EVENTS_SUBJECT_ROOT,
            subjectPrefix: config.SUBJECT_PREFIX,
          },
          syncQueueWaitMs: config.SYNC_QUEUE_WAIT_MS,
          duplicateWindowMs: config.DEDUPE_WINDOW_MS,
          codeCollection: { intervalMs: config.CODE_GC_INTERVAL_MS, graceMs: config.CODE_GC_GRACE_MS },
          ...(config.PUBLIC_URL ? { publicUrl: config.PUBLIC_URL } : {}),
          ...(signing ? { signing } : {}),
          codeSource: {
            region: config.AWS_REGION,
            ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
            ...(config.S3_ACCESS_KEY_ID ? { accessKeyId: config.S3_ACCESS_KEY_ID } : {}),
            ...(config.S3_SECRET_ACCESS_KEY ? { secretAccessKey: config.S3_SECRET_ACCESS_KEY } : {}),
          },
        }),
      ],
    };
  }
}
