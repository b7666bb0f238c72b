import type { BucketNotification, LambdaTrigger, ResourceNames } from '@tributary/contracts';
import type { NatsClient } from '@tributary/nats';
import { WatchedKv } from './watched-kv.js';

const isString = (value: unknown): value is string => typeof value === 'string';

/** A trigger with every member its readers use: one that is not would break each of them (GetPolicy of every function, the bucket's events). */
const isTrigger = (value: unknown): value is LambdaTrigger => {
  const t = value as Partial<LambdaTrigger> | null;
  return (
    typeof t === 'object' && t !== null && isString(t.id) && isString(t.functionArn) && isString(t.functionName) &&
    Array.isArray(t.events) && t.events.every(isString) && (t.prefix === undefined || isString(t.prefix)) && (t.suffix === undefined || isString(t.suffix))
  );
};

/**
 * The fields every reader of a bucket's triggers relies on, down to each trigger's: anyone who can
 * write to the KV bucket can put anything there, and a record that is not one is no configuration.
 */
const readBucketNotification = (value: unknown): BucketNotification | undefined => {
  const n = value as Partial<BucketNotification> | null;
  return typeof n === 'object' && n !== null && isString(n.bucket) && Array.isArray(n.lambda) && n.lambda.every(isTrigger) ? (n as BucketNotification) : undefined;
};

/** Buckets' notification configurations (their function triggers), mirrored by a KV watch. */
export class TriggerRegistry {
  private constructor(private readonly buckets: WatchedKv<BucketNotification>) {}

  static async open(client: NatsClient, names: Pick<ResourceNames, 'triggersBucket'>): Promise<TriggerRegistry> {
    const kv = await client.kv(names.triggersBucket);
    return new TriggerRegistry(await WatchedKv.open(kv, names.triggersBucket, readBucketNotification, () => client.kvKeys(names.triggersBucket)));
  }

  /** The bucket's configuration from the mirror (no I/O: this is on every object event's path). */
  get(bucket: string): BucketNotification | undefined {
    return this.buckets.get(bucket)?.value;
  }

  /** A direct read, for answering GetBucketNotificationConfiguration right after a Put elsewhere. */
  async getFresh(bucket: string): Promise<BucketNotification | undefined> {
    return (await this.buckets.getFresh(bucket))?.value;
  }

  async put(notification: BucketNotification): Promise<void> {
    if (notification.lambda.length === 0) await this.buckets.delete(notification.bucket);
    else await this.buckets.put(notification.bucket, notification);
  }

  /** Every bucket trigger that targets `functionName`. */
  forFunction(functionName: string): Array<{ bucket: string; id: string }> {
    return this.buckets
      .entries()
      .flatMap(([bucket, { value }]) => value.lambda.filter((t) => t.functionName === functionName).map((t) => ({ bucket, id: t.id })));
  }

  close(): void {
    this.buckets.close();
  }
}
