import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { ResourceNames } from '@tributary/contracts';
import { NatsClient } from '@tributary/nats';
import { FunctionRegistry } from './function-registry.js';

class RegistryLifecycle implements OnApplicationShutdown {
  constructor(@Inject(FunctionRegistry) private readonly registry: FunctionRegistry) {}

  onApplicationShutdown(): void {
    this.registry.close();
  }
}

/** Provides the FunctionRegistry of the service, loaded and watching before the app starts. */
@Module({})
export class RegistryModule {
  static forRoot(names: ResourceNames): DynamicModule {
    return {
      module: RegistryModule,
      global: true,
      providers: [
        {
          provide: FunctionRegistry,
          inject: [NatsClient],
          useFactory: (client: NatsClient) => FunctionRegistry.open(client, names),
        },
        RegistryLifecycle,
      ],
      exports: [FunctionRegistry],
    };
  }
}
