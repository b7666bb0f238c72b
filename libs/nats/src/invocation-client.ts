import { randomBytes, randomUUID } from 'node:crypto';
import { headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  INVOCATION_FORMAT,
  LATEST,
  REPLY_CHUNK_BYTES,
  REPLY_CHUNK_HEADER,
  invokeEventSubject,
  replyInboxPrefix,
  type InvocationReply,
  type InvokeEvent,
  type LogType,
} from '@tributary/contracts';
import type { NatsClient } from './nats-client.js';
import type { PayloadStore } from './payload-store.js';

export interface InvokeRequest {
  functionName: string;
  qualifier: string;
  /** The qualifier the caller named, if any: part of the ARN the handler is told it was invoked by. */
  invokedQualifier?: string;
  functionRevision: number;
  /** `createdAt` of the function resolved: the event runs on that function only, not a namesake created later. */
  functionCreated?: string;
  /** The payload as JSON text (already validated by the caller). */
  payload: string;
  logType: LogType;
  clientContext?: string;
  requestId?: string;
  source?: string;
}

/** Takes the pieces of a streamed result as they arrive, with the invocation's request id. */
export type ChunkSink = (chunk: Uint8Array, requestId: string) => void;

/** Sends a streamed result to a caller's reply subject in numbered pieces (REPLY_CHUNK_HEADER), ahead of the reply. */
export class ReplyChunks {
  private next = 0;

  /** Pieces sent so far: the reply says how many, so that a caller can tell the last were lost. */
  get sent(): number {
    return this.next;
  }

  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
  ) {}

  send(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.byteLength; at += REPLY_CHUNK_BYTES) {
      const h = headers();
      h.set(REPLY_CHUNK_HEADER, String(this.next++));
      this.nc.publish(this.subject, bytes.subarray(at, at + REPLY_CHUNK_BYTES), { headers: h });
    }
  }
}

/** What a caller is told when pieces of its streamed result were lost: the stream it has is not the function's. */
const streamBroken = (requestId: string): InvocationReply => ({
  v: INVOCATION_FORMAT,
  requestId,
  statusCode: 500,
  executedVersion: LATEST,
  serviceError: { type: 'ServiceException', statusCode: 500, message: 'Part of the response stream was lost on its way; the invocation may have completed.' },
});

interface Waiter {
  resolve: (r: InvocationReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  onChunk?: ChunkSink;
  /** The sequence number of the next piece of a streamed result. */
  nextChunk: number;
}

export interface InvocationClientOptions {
  eventsStream: string;
  subjectRoot: string;
  subjectPrefix: string;
}

/** A sync invocation was accepted but nobody answered before its deadline. */
export class InvocationTimeoutError extends Error {
  constructor(readonly requestId: string) {
    super(`no answer for invocation ${requestId} before its deadline`);
    this.name = 'InvocationTimeoutError';
  }
}

/**
 * Publishes invoke events on the events stream and, for sync invocations, waits for the worker's
 * answer on a per-process inbox (one wildcard subscription, requests told apart by id).
 */
export class InvocationClient {
  private readonly inbox: string;
  private readonly pending = new Map<string, Waiter>();
  private subscription?: Subscription;

  constructor(
    private readonly client: NatsClient,
    private readonly payloads: PayloadStore,
    private readonly options: InvocationClientOptions,
  ) {
    this.inbox = `${replyInboxPrefix(options.subjectPrefix)}.${randomBytes(8).toString('hex')}`;
  }

  start(): void {
    this.subscription = this.client.nc.subscribe(`${this.inbox}.*`, {
      callback: (error, msg) => {
        if (error) return;
        const requestId = msg.subject.slice(this.inbox.length + 1);
        const waiter = this.pending.get(requestId);
        if (!waiter) return;
        // Nothing may throw here: a throw inside a nats.js callback ends the connection's reader.
        const piece = msg.headers?.get(REPLY_CHUNK_HEADER);
        if (piece) return this.chunk(requestId, waiter, piece, msg.data);
        let reply: InvocationReply | null;
        try {
          reply = msg.json<InvocationReply | null>();
        } catch {
          return;
        }
        if (reply?.v !== INVOCATION_FORMAT) return;
        this.pending.delete(requestId);
        clearTimeout(waiter.timer);
        waiter.resolve(reply.streamed !== undefined && reply.streamed !== waiter.nextChunk ? streamBroken(requestId) : reply);
      },
    });
  }

  /** A piece of a streamed result: to the caller in order, or, after a gap, the end of it. */
  private chunk(requestId: string, waiter: Waiter, piece: string, data: Uint8Array): void {
    if (!waiter.onChunk) return;
    if (piece !== String(waiter.nextChunk)) {
      // Core NATS dropped some (a slow consumer): what follows would be a corrupt stream.
      this.pending.delete(requestId);
      clearTimeout(waiter.timer);
      waiter.resolve(streamBroken(requestId));
      return;
    }
    waiter.nextChunk += 1;
    try {
      waiter.onChunk(data, requestId);
    } catch {
      // The caller's own failure must not end this connection's reader.
    }
  }

  private async buildEvent(
    request: InvokeRequest,
    invocationtype: 'RequestResponse' | 'Event',
    extra: { replyto?: string; deadline?: number; responsemode?: 'streaming' },
  ): Promise<InvokeEvent> {
    const id = request.requestId ?? randomUUID();
    const event: InvokeEvent = {
      specversion: '1.0',
      id,
      source: request.source ?? 'tributary://api',
      type: 'invoke',
      subject: request.functionName,
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      targetfunction: request.functionName,
      qualifier: request.qualifier,
      ...(request.invokedQualifier ? { invokedqualifier: request.invokedQualifier } : {}),
      invocationtype,
      logtype: request.logType,
      functionrevision: request.functionRevision,
      ...(request.functionCreated ? { functioncreated: request.functionCreated } : {}),
      ...(request.clientContext ? { clientcontext: request.clientContext } : {}),
      ...extra,
    };
    if (this.payloads.needsReference(request.payload)) {
      event.dataref = await this.payloads.put(request.payload, id);
    } else {
      event.data = JSON.parse(request.payload) as unknown;
    }
    return event;
  }

  private async publish(event: InvokeEvent): Promise<void> {
    await this.client.js.publish(invokeEventSubject(event.targetfunction, this.options.subjectRoot), JSON.stringify(event), {
      msgID: event.id,
      expect: { streamName: this.options.eventsStream },
    });
  }

  /** Resolves once JetStream holds the event: the API may answer 202. */
  async invokeAsync(request: InvokeRequest): Promise<string> {
    const event = await this.buildEvent(request, 'Event', {});
    await this.publish(event);
    return event.id;
  }

  /**
   * Publishes the event and waits for the worker's reply until `waitMs` has passed. With
   * `onChunk`, a streaming handler's bytes come to it as the handler writes them (InvokeWithResponseStream),
   * and the reply then says `streamed`.
   */
  async invokeSync(request: InvokeRequest, waitMs: number, onChunk?: ChunkSink): Promise<InvocationReply> {
    const requestId = request.requestId ?? randomUUID();
    const deadline = Date.now() + waitMs;
    const answer = new Promise<InvocationReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new InvocationTimeoutError(requestId));
      }, waitMs);
      this.pending.set(requestId, { resolve, reject, timer, nextChunk: 0, ...(onChunk ? { onChunk } : {}) });
    });
    try {
      const event = await this.buildEvent({ ...request, requestId }, 'RequestResponse', {
        replyto: `${this.inbox}.${requestId}`,
        deadline,
        ...(onChunk ? { responsemode: 'streaming' as const } : {}),
      });
      await this.publish(event);
    } catch (error) {
      const waiter = this.pending.get(requestId);
      if (waiter) clearTimeout(waiter.timer);
      this.pending.delete(requestId);
      answer.catch(() => undefined);
      throw error;
    }
    return answer;
  }

  /** The reply's payload; one that came by claim check is removed from the store once read (it is read once). */
  async replyPayload(reply: InvocationReply): Promise<string> {
    const payload = await this.payloads.unpack(reply);
    if (reply.payloadRef) void this.payloads.delete(reply.payloadRef);
    return payload;
  }

  /** Stops listening; callers still waiting get an error rather than hanging. */
  close(): void {
    this.subscription?.unsubscribe();
    for (const [, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('the API is shutting down'));
    }
    this.pending.clear();
  }
}
