import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { HealthRegistry } from '@tributary/observability';

export const REDIS_CONNECTION = Symbol('REDIS_CONNECTION');

class RedisLifecycle implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CONNECTION) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

export interface RedisModuleOptions {
  url: string;
  /**
   * BullMQ workers block on Redis and need commands that wait out a reconnect; a producer wants
   * a command to fail fast instead, so that its caller can hand the work back.
   */
  blocking: boolean;
}

/** The service's shared Redis connection, with a `redis` readiness check. */
@Module({})
export class RedisModule {
  static forRoot(options: RedisModuleOptions): DynamicModule {
    return {
      module: RedisModule,
      global: true,
      providers: [
        {
          provide: REDIS_CONNECTION,
          inject: [HealthRegistry],
          useFactory: (health: HealthRegistry) => {
            const redis = new Redis(options.url, { maxRetriesPerRequest: options.blocking ? null : 2 });
            health.register('redis', () => redis.status === 'ready');
            return redis;
          },
        },
        RedisLifecycle,
      ],
      exports: [REDIS_CONNECTION],
    };
  }
}
