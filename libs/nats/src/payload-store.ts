import { randomUUID } from 'node:crypto';
import type { ObjectStore } from '@nats-io/obj';

/** How long a claim-checked payload lives; longer than any invocation can wait in a queue. */
export const PAYLOAD_TTL_MS = 7 * 24 * 3_600_000;

/**
 * Claim checks: a payload too large for a NATS message (or for a lean BullMQ job) is stored in
 * the object store and the message carries its key instead.
 */
export class PayloadStore {
  constructor(
    private readonly store: ObjectStore,
    /** Payloads above this many bytes go by reference. */
    readonly inlineLimit: number,
  ) {}

  needsReference(text: string): boolean {
    // Byte length is at most 3× the UTF-16 length; skip the exact count when clearly small.
    return text.length * 3 > this.inlineLimit && Buffer.byteLength(text) > this.inlineLimit;
  }

  async put(text: string, key: string = randomUUID()): Promise<string> {
    await this.store.putBlob({ name: key }, Buffer.from(text));
    return key;
  }

  async get(key: string): Promise<string> {
    const blob = await this.store.getBlob(key);
    if (!blob) throw new Error(`payload ${key} is missing from the payload store`);
    return Buffer.from(blob).toString('utf8');
  }

  async delete(key: string): Promise<void> {
    await this.store.delete(key).catch(() => undefined);
  }

  async unpack(packed: { payload?: string; payloadRef?: string }): Promise<string> {
    if (packed.payloadRef) return this.get(packed.payloadRef);
    return packed.payload ?? '';
  }
}
