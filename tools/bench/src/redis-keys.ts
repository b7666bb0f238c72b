import type { Redis } from 'ioredis';

/** Removes every key under `prefix:` (a bench run's queues), a SCAN page at a time. */
export const deleteKeysUnder = async (redis: Redis, prefix: string): Promise<void> => {
  for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) {
    if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
  }
};
