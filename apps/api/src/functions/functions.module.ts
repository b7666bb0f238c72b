import { APP_FILTER } from '@nestjs/core';
import { Inject, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { SigV4Verifier } from '@tributary/auth';
import type { LambdaIdentity } from '@tributary/contracts';
import { InvocationClient, NatsClient, PayloadStore, type InvocationClientOptions } from '@tributary/nats';
import { FunctionsController, PUBLIC_URL, REQUEST_SIGNING } from './functions.controller.js';
import { CODE_SOURCE, FunctionsService, LAMBDA_IDENTITY } from './functions.service.js';
import { objectStoreClient, type ObjectStoreSettings } from '@tributary/s3';
import { InvokeService, SYNC_QUEUE_WAIT_MS } from './invoke.service.js';
import { CODE_COLLECTION, CodeCollector, type CodeCollectionSettings } from './code-collector.js';
import { LambdaErrorFilter } from './lambda-error.js';
import { TagsController } from './tags.controller.js';
import { FunctionExtrasController } from './function-extras.controller.js';
import { ResponseStreamController } from './response-stream.controller.js';
import { UnsupportedOperationsController } from './unsupported-operations.controller.js';
import { PolicyService } from './policy.service.js';

class InvocationClientLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(InvocationClient) private readonly client: InvocationClient) {}

  onModuleInit(): void {
    this.client.start();
  }

  onApplicationShutdown(): void {
    this.client.close();
  }
}

export interface FunctionsModuleOptions {
  identity: LambdaIdentity;
  invocation: InvocationClientOptions;
  syncQueueWaitMs: number;
  duplicateWindowMs: number;
  codeCollection: CodeCollectionSettings;
  publicUrl?: string;
  /** Where Code.S3Bucket/S3Key packages are read from. */
  codeSource: ObjectStoreSettings;
  /** When calls must be signed: the verifier, which also presigns Code.Location. */
  signing?: SigV4Verifier;
}

@Module({})
export class FunctionsModule {
  static forRoot(options: FunctionsModuleOptions): DynamicModule {
    return {
      module: FunctionsModule,
      controllers: [FunctionsController, TagsController, FunctionExtrasController, ResponseStreamController, UnsupportedOperationsController],
      providers: [
        { provide: APP_FILTER, useClass: LambdaErrorFilter },
        { provide: LAMBDA_IDENTITY, useValue: options.identity },
        { provide: SYNC_QUEUE_WAIT_MS, useValue: options.syncQueueWaitMs },
        { provide: CODE_COLLECTION, useValue: options.codeCollection },
        { provide: CODE_SOURCE, useFactory: () => objectStoreClient(options.codeSource) },
        { provide: PUBLIC_URL, useValue: options.publicUrl?.replace(/\/+$/, '') },
        { provide: REQUEST_SIGNING, useValue: options.signing },
        CodeCollector,
        {
          provide: InvocationClient,
          inject: [NatsClient, PayloadStore],
          useFactory: async (nats: NatsClient, payloads: PayloadStore) => {
            // The API is the first producer: make sure the stream exists before accepting invokes.
            await nats.ensureEventsStream(
              options.invocation.eventsStream,
              [`${options.invocation.subjectRoot}.>`],
              options.duplicateWindowMs,
            );
            return new InvocationClient(nats, payloads, options.invocation);
          },
        },
        InvocationClientLifecycle,
        FunctionsService,
        InvokeService,
        PolicyService,
      ],
    };
  }
}
