import { createHash } from 'node:crypto';
import type { ObjectStore } from '@nats-io/obj';
import {
  LAMBDA_LIMITS,
  LATEST,
  functionArn,
  functionDefaults,
  type FunctionRecord,
  type FunctionSpec,
  type LambdaIdentity,
  type ResourceNames,
  logGroupOf,
} from '@tributary/contracts';
import type { NatsClient } from '@tributary/nats';
import { KeyExistsError, KeyNotFoundError, WatchedKv, type Versioned } from './watched-kv.js';

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

/** The fields every reader of a function record relies on. */
const isFunctionRecord = (value: unknown): value is FunctionRecord => {
  const r = value as Partial<FunctionRecord> | null;
  return (
    typeof r === 'object' && r !== null && typeof r.name === 'string' && typeof r.codeKey === 'string' && typeof r.revisionId === 'string' &&
    typeof r.handler === 'string' && typeof r.runtime === 'string' && within(r.timeout, LAMBDA_LIMITS.timeoutMin, LAMBDA_LIMITS.timeoutMax) &&
    within(r.memorySize, LAMBDA_LIMITS.memoryMin, LAMBDA_LIMITS.memoryMax)
  );
};

/** Timeout and MemorySize within the API's ranges: out of them a timer overflows (a timeout of 1e12 s answered 429 at once) or a limit means nothing. */
const within = (value: unknown, min: number, max: number): boolean => Number.isInteger(value) && (value as number) >= min && (value as number) <= max;

/**
 * A stored function record. Before session 16 the API stored a member sent as JSON null by
 * UpdateFunctionConfiguration as null (AWS reads it as absent), so a record may hold nulls: they
 * are read as absent, and a setting with an AWS default gets that default (a null Timeout made
 * every invocation crash, a null MemorySize made each fail as out of memory). One without a
 * Handler or Runtime stays unreadable: there is nothing to run it with.
 */
export const readFunctionRecord = (value: unknown): FunctionRecord | undefined => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const present = Object.fromEntries(Object.entries(value).filter(([, member]) => member !== null));
  const record: unknown = { ...functionDefaults(), ...present };
  return isFunctionRecord(record) ? record : undefined;
};

const toEntry = (v: Versioned<FunctionRecord> | undefined): FunctionEntry | undefined =>
  v ? { record: v.value, revision: v.revision } : undefined;

/**
 * Functions in a NATS KV bucket and their code in the object store, with an in-memory index
 * kept current by a KV watch, so that no event pays for a registry lookup.
 */
export class FunctionRegistry {
  private constructor(
    private readonly functions: WatchedKv<FunctionRecord>,
    private readonly code: ObjectStore,
  ) {}

  static async open(client: NatsClient, names: Pick<ResourceNames, 'functionsBucket' | 'codeStore'>): Promise<FunctionRegistry> {
    const kv = await client.kv(names.functionsBucket);
    return new FunctionRegistry(await WatchedKv.open(kv, names.functionsBucket, readFunctionRecord, () => client.kvKeys(names.functionsBucket)), await client.objectStore(names.codeStore));
  }

  /** Called on every change of a function (undefined: deleted). */
  onChange(listener: RegistryListener): () => void {
    return this.functions.onChange((name, entry) => listener(name, toEntry(entry)));
  }

  /** From the in-memory index; may lag a write made elsewhere by a few milliseconds. */
  get(name: string): FunctionEntry | undefined {
    return toEntry(this.functions.get(name));
  }

  /**
   * The index entry when it is at least `minRevision`; otherwise a direct read of the bucket,
   * so that a function created or updated a moment ago is never taken for missing or stale.
   */
  async getFresh(name: string, minRevision?: number): Promise<FunctionEntry | undefined> {
    return toEntry(await this.functions.getFresh(name, minRevision));
  }

  list(): FunctionEntry[] {
    return this.functions
      .entries()
      .map(([, v]) => ({ record: v.value, revision: v.revision }))
      // By code unit, as ListFunctions' marker compares names: a locale's order would make pages skip some.
      .sort((a, b) => (a.record.name < b.record.name ? -1 : a.record.name > b.record.name ? 1 : 0));
  }

  async create(record: FunctionRecord): Promise<FunctionEntry> {
    try {
      return { record, revision: (await this.functions.create(record.name, record)).revision };
    } catch (error) {
      if (error instanceof KeyExistsError) throw new FunctionExistsError(record.name);
      throw error;
    }
  }

  async update(name: string, change: (record: FunctionRecord) => FunctionRecord): Promise<FunctionEntry> {
    try {
      const updated = await this.functions.update(name, change);
      return { record: updated.value, revision: updated.revision };
    } catch (error) {
      if (error instanceof KeyNotFoundError) throw new FunctionNotFoundError(name);
      throw error;
    }
  }

  /** Deletes a function; FunctionNotFoundError when there is none, also when a concurrent delete came first. */
  async delete(name: string): Promise<void> {
    try {
      await this.functions.deleteExisting(name);
    } catch (error) {
      if (error instanceof KeyNotFoundError) throw new FunctionNotFoundError(name);
      throw error;
    }
  }

  /**
   * Stores a deployment package under its SHA-256 (same zip, same object). A package stored
   * more than `renewAfterMs` ago is stored again, which renews its modification time: the
   * collector removes only packages older than its grace period, so with `renewAfterMs` at
   * most half that period it cannot take a package from under the function about to use it.
   */
  async putCode(zip: Uint8Array, { renewAfterMs = 30 * 60_000 }: { renewAfterMs?: number } = {}): Promise<{ codeKey: string; codeSha256: string; codeSize: number }> {
    const digest = createHash('sha256').update(zip).digest();
    const codeKey = digest.toString('hex');
    const existing = await this.code.info(codeKey);
    const fresh = existing && !existing.deleted && existing.size === zip.byteLength && Date.now() - Date.parse(existing.mtime) < renewAfterMs;
    if (!fresh) await this.code.putBlob({ name: codeKey }, zip);
    return { codeKey, codeSha256: digest.toString('base64'), codeSize: zip.byteLength };
  }

  /**
   * Removes deployment packages that no function uses and that were last stored more than
   * `graceMs` ago (see `putCode`). A package counts as used when the bucket *or* the watched
   * index names it, and nothing is removed when the bucket's listing comes back shorter than
   * the index (a listing can end early without an error). Returns the code keys removed.
   */
  async collectUnusedCode(graceMs: number): Promise<string[]> {
    const indexed = this.functions.entries().map(([, entry]) => entry.value.codeKey);
    const stored = await this.functions.readAll();
    if (stored.length < indexed.length) return [];
    const used = new Set([...indexed, ...stored.map((record) => record.codeKey)]);
    const removed: string[] = [];
    for (const info of await this.code.list()) {
      if (info.deleted || used.has(info.name)) continue;
      const stale = (mtime: string) => Date.now() - Date.parse(mtime) >= graceMs;
      if (!stale(info.mtime)) continue;
      // Stored again since the listing (a deploy of the same zip)? Then it is about to be used.
      const current = await this.code.info(info.name);
      if (!current || current.deleted || !stale(current.mtime)) continue;
      await this.code.delete(info.name);
      removed.push(info.name);
    }
    return removed;
  }

  async getCode(codeKey: string): Promise<Uint8Array> {
    const blob = await this.code.getBlob(codeKey);
    if (!blob) throw new Error(`code ${codeKey} is missing from the code store`);
    return blob;
  }

  close(): void {
    this.functions.close();
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
  ephemeralStorageMb: record.ephemeralStorageMb,
  environment: record.environment,
  codeKey: record.codeKey,
  revisionId: record.revisionId,
  logGroup: logGroupOf(record),
  ...(record.jsonLogs ? { jsonLogs: record.jsonLogs } : {}),
});
