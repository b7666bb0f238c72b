import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  jetstream,
  jetstreamManager,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';

export interface NatsClientOptions {
  url: string;
  token?: string;
  /** Connection name, shown by the server's monitoring. */
  name: string;
}

const nanos = (ms: number): number => ms * 1_000_000;

/**
 * How long an events stream keeps a message, taken or not: six hours, AWS's longest age of an
 * asynchronous event (MaximumEventAgeInSeconds), after which AWS drops an event it has not run
 * too. The streams keep what is taken as well (limits retention: nats-server 2.9 cannot change an
 * existing stream's retention, and interest retention drops what is published before a consumer
 * exists), so this also bounds their disk: a week, before session 26, grew with every invocation.
 */
export const EVENT_RETENTION_MS = 6 * 3_600_000;
/** The age streams were made with before session 26: a week, in nanoseconds. */
const OLD_EVENT_RETENTION_NS = 7 * 24 * 3_600_000 * 1_000_000;

/** One NATS connection with its JetStream, KV and object-store handles. */
export class NatsClient {
  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
  ) {}

  static async connect(options: NatsClientOptions): Promise<NatsClient> {
    const servers = options.url.replace(/^nats:\/\//, '');
    const nc = await connect({
      servers,
      name: options.name,
      ...(options.token ? { token: options.token } : {}),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      waitOnFirstConnect: true,
      // nats.js otherwise builds two Error objects (for their stack) on every request, a
      // JetStream publish included: a tenth of the API's CPU per invoke.
      noAsyncTraces: true,
    });
    return new NatsClient(nc, jetstream(nc), await jetstreamManager(nc));
  }

  get connected(): boolean {
    return !this.nc.isClosed() && !this.nc.isDraining() && this.nc.info !== undefined && this.reconnecting === false;
  }

  /** The largest message the server takes (its max_payload; NATS's default 1 MiB before it said). */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  private reconnecting = false;

  /** Tracks reconnects so health can report them; call once after connect. */
  watchStatus(onChange?: (state: 'disconnected' | 'reconnected') => void): void {
    void (async () => {
      for await (const status of this.nc.status()) {
        if (status.type === 'disconnect' || status.type === 'reconnecting') {
          if (!this.reconnecting) onChange?.('disconnected');
          this.reconnecting = true;
        } else if (status.type === 'reconnect') {
          this.reconnecting = false;
          onChange?.('reconnected');
        }
      }
    })();
  }

  /** Creates an events stream, or brings its subjects, de-duplication window and retention up to date. */
  async ensureEventsStream(name: string, subjects: string[], duplicateWindowMs: number): Promise<void> {
    const config = {
      name,
      subjects,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(duplicateWindowMs),
      max_age: nanos(EVENT_RETENTION_MS),
    };
    try {
      const info = await this.jsm.streams.info(name);
      // A stream made with the week this code gave before comes down to six hours; an age an
      // operator set is theirs to keep.
      const maxAge = info.config.max_age === OLD_EVENT_RETENTION_NS ? config.max_age : info.config.max_age;
      const same =
        info.config.duplicate_window === config.duplicate_window &&
        info.config.max_age === maxAge &&
        JSON.stringify(info.config.subjects) === JSON.stringify(subjects);
      if (!same) await this.jsm.streams.update(name, { ...info.config, subjects, duplicate_window: config.duplicate_window, max_age: maxAge });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.jsm.streams.add(config).catch(async (addError: unknown) => {
        // Another replica created it in between.
        if (!(await this.jsm.streams.info(name).then(() => true, () => false))) throw addError;
      });
    }
  }

  /** Opens (creating when missing) a KV bucket with file storage and the given history. */
  async kv(bucket: string, history = 1): Promise<KV> {
    return new Kvm(this.js).create(bucket, { history, storage: StorageType.File });
  }

  /**
   * The keys a KV bucket holds a message for (the deleted ones too, whose last message is a
   * delete marker), from the stream's subject list: a request with a timeout, where the
   * client's `keys()` rides an ordered consumer that, now and then, never says it is done.
   */
  async kvKeys(bucket: string): Promise<string[]> {
    const prefix = `$KV.${bucket}.`;
    const info = await this.jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
    return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
  }

  /** Opens (creating when missing) an object store; `ttlMs` ages objects out (claim checks). */
  async objectStore(name: string, ttlMs?: number): Promise<ObjectStore> {
    return new Objm(this.js).create(name, {
      storage: StorageType.File,
      ...(ttlMs ? { ttl: nanos(ttlMs) } : {}),
    });
  }

  /** Stops taking new messages, lets subscriptions finish what they hold, then closes. */
  async drain(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }
}

export const isNotFound = (error: unknown): boolean =>
  error instanceof Error && /not found/i.test(error.message);
