import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { KV } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import { KvWatchInclude } from '@nats-io/kv';
import {
  LATEST,
  functionArn,
  type FunctionRecord,
  type FunctionSpec,
  type LambdaIdentity,
  type ResourceNames,
} from '@tributary/contracts';
import type { NatsClient } from '@tributary/nats';

/** A function as read from the registry, with the KV revision it was read at. */
export interface FunctionEntry {
  record: FunctionRecord;
  revision: number;
}

export class FunctionExistsError extends Error {
  constructor(readonly functionName: string) {
    super(`Function already exist: ${functionName}`);
    this.name = 'FunctionExistsError';
  }
}

export class FunctionNotFoundError extends Error {
  constructor(readonly functionName: string) {
    super(`Function not found: ${functionName}`);
    this.name = 'FunctionNotFoundError';
  }
}

export type RegistryListener = (name: string, entry: FunctionEntry | undefined) => void;

const isWrongRevision = (error: unknown): boolean =>
  error instanceof Error && /wrong last sequence|key exists/i.test(error.message);

/**
 * Functions in a NATS KV bucket and their code in the object store, with an in-memory index
 * kept current by a KV watch, so that no event pays for a registry lookup.
 */
export class FunctionRegistry {
  private readonly logger = new Logger(FunctionRegistry.name);
  private readonly index = new Map<string, FunctionEntry>();
  /** Revision of the last change seen per key (tombstones included), to order watch vs. load. */
  private readonly seen = new Map<string, number>();
  private readonly listeners = new Set<RegistryListener>();
  private stopWatch?: () => void;

  private constructor(
    private readonly kv: KV,
    private readonly code: ObjectStore,
  ) {}

  static async open(client: NatsClient, names: Pick<ResourceNames, 'functionsBucket' | 'codeStore'>): Promise<FunctionRegistry> {
    const registry = new FunctionRegistry(await client.kv(names.functionsBucket), await client.objectStore(names.codeStore));
    await registry.startWatch();
    return registry;
  }

  private async startWatch(): Promise<void> {
    // Watch first, then load: whichever of the two holds the higher revision for a key wins.
    const watch = await this.kv.watch({ include: KvWatchInclude.UpdatesOnly });
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const entry of watch) {
        this.apply(entry.key, entry.revision, entry.operation === 'PUT' ? entry.json<FunctionRecord>() : undefined);
      }
    })().catch((error: unknown) => this.logger.error(`registry watch ended: ${String(error)}`));
    const keys: string[] = [];
    for await (const key of await this.kv.keys()) keys.push(key);
    await Promise.all(
      keys.map(async (key) => {
        const entry = await this.kv.get(key);
        if (entry) this.apply(key, entry.revision, entry.operation === 'PUT' ? entry.json<FunctionRecord>() : undefined);
      }),
    );
  }

  private apply(name: string, revision: number, record: FunctionRecord | undefined): void {
    if ((this.seen.get(name) ?? 0) >= revision) return;
    this.seen.set(name, revision);
    if (record) this.index.set(name, { record, revision });
    else this.index.delete(name);
    const entry = this.index.get(name);
    for (const listener of this.listeners) listener(name, entry);
  }

  /** Called on every change of a function (undefined: deleted). */
  onChange(listener: RegistryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** From the in-memory index; may lag a write made elsewhere by a few milliseconds. */
  get(name: string): FunctionEntry | undefined {
    return this.index.get(name);
  }

  /**
   * The index entry when it is at least `minRevision`; otherwise a direct read of the bucket,
   * so that a function created or updated a moment ago is never taken for missing or stale.
   */
  async getFresh(name: string, minRevision = Number.MAX_SAFE_INTEGER): Promise<FunctionEntry | undefined> {
    const cached = this.index.get(name);
    if (cached && cached.revision >= minRevision) return cached;
    const entry = await this.kv.get(name);
    this.apply(name, entry?.revision ?? 0, entry?.operation === 'PUT' ? entry.json<FunctionRecord>() : undefined);
    return entry?.operation === 'PUT' ? { record: entry.json<FunctionRecord>(), revision: entry.revision } : undefined;
  }

  list(): FunctionEntry[] {
    return [...this.index.values()].sort((a, b) => a.record.name.localeCompare(b.record.name));
  }

  get size(): number {
    return this.index.size;
  }

  async create(record: FunctionRecord): Promise<FunctionEntry> {
    try {
      const revision = await this.kv.create(record.name, JSON.stringify(record));
      this.apply(record.name, revision, record);
      return { record, revision };
    } catch (error) {
      if (isWrongRevision(error)) throw new FunctionExistsError(record.name);
      throw error;
    }
  }

  /** Read-modify-write with compare-and-set on the KV revision; retries on a concurrent write. */
  async update(name: string, change: (record: FunctionRecord) => FunctionRecord): Promise<FunctionEntry> {
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const current = await this.getFresh(name);
      if (!current) throw new FunctionNotFoundError(name);
      const record = change(current.record);
      try {
        const revision = await this.kv.update(name, JSON.stringify(record), current.revision);
        this.apply(name, revision, record);
        return { record, revision };
      } catch (error) {
        if (!isWrongRevision(error)) throw error;
      }
    }
    throw new Error(`function ${name} is being changed concurrently; try again`);
  }

  async delete(name: string): Promise<void> {
    const current = await this.getFresh(name);
    if (!current) throw new FunctionNotFoundError(name);
    await this.kv.delete(name);
    const after = await this.kv.get(name);
    this.apply(name, after?.revision ?? current.revision + 1, undefined);
  }

  /** Stores a deployment package under its SHA-256 (idempotent: same zip, same object). */
  async putCode(zip: Uint8Array): Promise<{ codeKey: string; codeSha256: string; codeSize: number }> {
    const digest = createHash('sha256').update(zip).digest();
    const codeKey = digest.toString('hex');
    const existing = await this.code.info(codeKey);
    if (!existing || existing.deleted || existing.size !== zip.byteLength) await this.code.putBlob({ name: codeKey }, zip);
    return { codeKey, codeSha256: digest.toString('base64'), codeSize: zip.byteLength };
  }

  async getCode(codeKey: string): Promise<Uint8Array> {
    const blob = await this.code.getBlob(codeKey);
    if (!blob) throw new Error(`code ${codeKey} is missing from the code store`);
    return blob;
  }

  close(): void {
    this.stopWatch?.();
    this.listeners.clear();
  }
}

/** What a sandbox needs to run the `$LATEST` revision of a function. */
export const toFunctionSpec = (record: FunctionRecord, identity: LambdaIdentity): FunctionSpec => ({
  name: record.name,
  version: LATEST,
  arn: functionArn(identity, record.name),
  runtime: record.runtime,
  handler: record.handler,
  timeout: record.timeout,
  memorySize: record.memorySize,
  environment: record.environment,
  codeKey: record.codeKey,
  revisionId: record.revisionId,
});
