import { Inject, Logger, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { HealthRegistry } from '@tributary/observability';
import type { ResourceNames } from '@tributary/contracts';
import type { BaseConfig } from '@tributary/config';
import { NatsClient } from './nats-client.js';
import { PAYLOAD_TTL_MS, PayloadStore } from './payload-store.js';

export interface NatsModuleOptions {
  url: string;
  token?: string;
  service: string;
  names: ResourceNames;
  inlinePayloadBytes: number;
}

export const NATS_OPTIONS = Symbol('NATS_OPTIONS');

class NatsLifecycle implements OnApplicationShutdown {
  constructor(@Inject(NatsClient) private readonly client: NatsClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.client.drain();
  }
}

/** The service's NATS connection, its payload store, and a `nats` readiness check. */
@Module({})
export class NatsModule {
  /** The module as every service configures it, from its validated configuration. */
  static forService(service: string, config: BaseConfig): DynamicModule {
    return NatsModule.forRoot({
      url: config.NATS_URL,
      ...(config.NATS_TOKEN ? { token: config.NATS_TOKEN } : {}),
      service: `tributary-${service}`,
      names: config.names,
      inlinePayloadBytes: config.INLINE_PAYLOAD_BYTES,
    });
  }

  static forRoot(options: NatsModuleOptions): DynamicModule {
    return {
      module: NatsModule,
      global: true,
      providers: [
        { provide: NATS_OPTIONS, useValue: options },
        {
          provide: NatsClient,
          inject: [HealthRegistry],
          useFactory: async (health: HealthRegistry) => {
            const logger = new Logger('Nats');
            const client = await NatsClient.connect({ url: options.url, token: options.token, name: options.service });
            client.watchStatus((state) =>
              state === 'disconnected' ? logger.warn('NATS connection lost; reconnecting') : logger.log('NATS reconnected'),
            );
            health.register('nats', () => client.connected);
            return client;
          },
        },
        {
          provide: PayloadStore,
          inject: [NatsClient],
          useFactory: async (client: NatsClient) =>
            new PayloadStore(await client.objectStore(options.names.payloadStore, PAYLOAD_TTL_MS), options.inlinePayloadBytes),
        },
        NatsLifecycle,
      ],
      exports: [NatsClient, PayloadStore, NATS_OPTIONS],
    };
  }
}
