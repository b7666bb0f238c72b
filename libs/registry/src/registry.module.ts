import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { ResourceNames } from '@tributary/contracts';
import { NatsClient } from '@tributary/nats';
import { FunctionRegistry } from './function-registry.js';
import { TriggerRegistry } from './trigger-registry.js';

class RegistryLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(FunctionRegistry) private readonly registry: FunctionRegistry,
    @Inject(TriggerRegistry) private readonly triggers: TriggerRegistry,
  ) {}

  onApplicationShutdown(): void {
    this.registry.close();
    this.triggers.close();
  }
}

/** Provides the function and trigger registries, loaded and watching before the app starts. */
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
        {
          provide: TriggerRegistry,
          inject: [NatsClient],
          useFactory: (client: NatsClient) => TriggerRegistry.open(client, names),
        },
        RegistryLifecycle,
      ],
      exports: [FunctionRegistry, TriggerRegistry],
    };
  }
}
