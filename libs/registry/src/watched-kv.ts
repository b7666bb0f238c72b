import { Logger } from '@nestjs/common';
import { KvWatchInclude, type KV } from '@nats-io/kv';

/** A value read from a watched bucket, with the KV revision it was read at. */
export interface Versioned<T> {
  value: T;
  revision: number;
}

/** A stored JSON value as `T` (possibly repaired), or undefined when it is not one. */
export type ValueReader<T> = (value: unknown) => T | undefined;

/** Lists the bucket's keys; may include deleted ones, which read as absent. */
export type KeyLister = () => Promise<string[]>;

export type ChangeListener<T> = (key: string, entry: Versioned<T> | undefined) => void;

const isWrongRevision = (error: unknown): boolean =>
  error instanceof Error && /wrong last sequence|key exists/i.test(error.message);

export class KeyExistsError extends Error {
  constructor(readonly key: string) {
    super(`key ${key} exists`);
    this.name = 'KeyExistsError';
  }
}

export class KeyNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`key ${key} not found`);
    this.name = 'KeyNotFoundError';
  }
}

/**
 * A KV bucket of JSON values mirrored in memory by a watch, so reads cost nothing; writes go to
 * the bucket with compare-and-set and update the mirror at once.
 */
export class WatchedKv<T> {
  private readonly logger = new Logger(WatchedKv.name);
  private readonly index = new Map<string, Versioned<T>>();
  /** Revision of the last change seen per key (deletes included), to order watch vs. load. */
  private readonly seen = new Map<string, number>();
  private readonly listeners = new Set<ChangeListener<T>>();
  private stopWatch?: () => void;

  private constructor(
    private readonly kv: KV,
    private readonly name: string,
    private readonly readValue: ValueReader<T>,
    private readonly listKeys: KeyLister,
  ) {}

  /** `read` screens what the bucket holds (anyone with NATS access can write to it), and may repair it. */
  static async open<T>(kv: KV, name: string, read: ValueReader<T>, listKeys: KeyLister): Promise<WatchedKv<T>> {
    const watched = new WatchedKv<T>(kv, name, read, listKeys);
    await watched.start();
    return watched;
  }

  private async start(): Promise<void> {
    // Watch first, then load: whichever holds the higher revision for a key wins.
    const watch = await this.kv.watch({ include: KvWatchInclude.UpdatesOnly });
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const entry of watch) {
        this.apply(entry.key, entry.revision, entry.operation === 'PUT' ? this.decode(entry) : undefined);
      }
    })().catch((error: unknown) => this.logger.error(`watch of ${this.name} ended: ${String(error)}`));
    await Promise.all((await this.listKeys()).map((key) => this.read(key)));
  }

  private apply(key: string, revision: number, value: T | undefined): void {
    if ((this.seen.get(key) ?? 0) >= revision) return;
    this.seen.set(key, revision);
    if (value === undefined) this.index.delete(key);
    else this.index.set(key, { value, revision });
    const entry = this.index.get(key);
    for (const listener of this.listeners) {
      try {
        listener(key, entry);
      } catch (error) {
        this.logger.error(`a listener of ${this.name} failed on ${key}: ${String(error)}`);
      }
    }
  }

  /** The entry's value, or undefined (as if absent) when it is not JSON of the expected shape. */
  private decode(entry: { key: string; json<V>(): V }): T | undefined {
    let value: T | undefined;
    try {
      value = this.readValue(entry.json<unknown>());
    } catch {
      value = undefined;
    }
    if (value !== undefined) return value;
    this.logger.error(`${this.name}: ignoring ${entry.key}, which does not hold a valid record`);
    return undefined;
  }

  private async read(key: string): Promise<Versioned<T> | undefined> {
    const entry = await this.kv.get(key);
    const value = entry?.operation === 'PUT' ? this.decode(entry) : undefined;
    if (entry) this.apply(key, entry.revision, value);
    return entry && value !== undefined ? { value, revision: entry.revision } : undefined;
  }

  onChange(listener: ChangeListener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(key: string): Versioned<T> | undefined {
    return this.index.get(key);
  }

  /** The mirror when it holds at least `minRevision`; otherwise a direct read of the bucket. */
  async getFresh(key: string, minRevision = Number.MAX_SAFE_INTEGER): Promise<Versioned<T> | undefined> {
    const cached = this.index.get(key);
    if (cached && cached.revision >= minRevision) return cached;
    return this.read(key);
  }

  entries(): Array<[string, Versioned<T>]> {
    return [...this.index.entries()];
  }

  /** Every value, read from the bucket itself rather than the mirror (for decisions that must not trust a watch). */
  async readAll(): Promise<T[]> {
    const values = await Promise.all((await this.listKeys()).map((key) => this.read(key)));
    return values.filter((v): v is Versioned<T> => v !== undefined).map((v) => v.value);
  }

  async create(key: string, value: T): Promise<Versioned<T>> {
    try {
      const revision = await this.kv.create(key, JSON.stringify(value));
      this.apply(key, revision, value);
      return { value, revision };
    } catch (error) {
      if (isWrongRevision(error)) throw new KeyExistsError(key);
      throw error;
    }
  }

  async put(key: string, value: T): Promise<Versioned<T>> {
    const revision = await this.kv.put(key, JSON.stringify(value));
    this.apply(key, revision, value);
    return { value, revision };
  }

  /** Read-modify-write with compare-and-set on the revision; retries on a concurrent write. */
  async update(key: string, change: (value: T) => T): Promise<Versioned<T>> {
    return this.compareAndSet(key, async (current) => {
      const value = change(current.value);
      const revision = await this.kv.update(key, JSON.stringify(value), current.revision);
      this.apply(key, revision, value);
      return { value, revision };
    });
  }

  async delete(key: string): Promise<void> {
    await this.kv.delete(key);
    await this.deleted(key);
  }

  /**
   * Deletes a value that exists, with compare-and-set on its revision: of concurrent deletes one
   * wins and the rest find nothing (KeyNotFoundError), as they would one after another.
   */
  async deleteExisting(key: string): Promise<void> {
    await this.compareAndSet(key, async (current) => {
      await this.kv.delete(key, { previousSeq: current.revision });
      await this.deleted(key);
    });
  }

  /** Runs a write against the key's current revision, again with the new one when another write came first. */
  private async compareAndSet<R>(key: string, write: (current: Versioned<T>) => Promise<R>): Promise<R> {
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const current = await this.getFresh(key);
      if (!current) throw new KeyNotFoundError(key);
      try {
        return await write(current);
      } catch (error) {
        if (!isWrongRevision(error)) throw error;
      }
    }
    throw new Error(`${key} is being changed concurrently; try again`);
  }

  private async deleted(key: string): Promise<void> {
    const after = await this.kv.get(key);
    this.apply(key, after?.revision ?? (this.seen.get(key) ?? 0) + 1, undefined);
  }

  close(): void {
    this.stopWatch?.();
    this.listeners.clear();
  }
}
