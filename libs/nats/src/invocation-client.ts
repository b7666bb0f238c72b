import { randomBytes, randomUUID } from 'node:crypto';
import { headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  INVOCATION_FORMAT,
  LATEST,
  REPLY_CHUNK_BYTES,
  REPLY_CHUNK_HEADER,
  REPLY_ACK_INTERVAL_MS,
  REPLY_ACK_STALL_MS,
  REPLY_ACK_STOP,
  REPLY_WINDOW_PIECES,
  invokeEventSubject,
  replyAckSubject,
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

/**
 * Takes the pieces of a streamed result as they arrive, with the invocation's request id. It
 * returns a promise while its own reader has no room (the piece is acknowledged once that
 * settles, and the function is held back meanwhile), or `false` once it takes no more.
 */
export type ChunkSink = (chunk: Uint8Array, requestId: string) => Promise<void> | false | void;

/**
 * Sends a streamed result to a caller's reply subject in numbered pieces (REPLY_CHUNK_HEADER),
 * ahead of the reply. With a window (the event's `streamwindow`), no faster than the caller takes
 * them: `send` then returns a promise while the window is full, and its writer waits for it.
 */
export class ReplyChunks {
  private next = 0;
  /** Pieces the caller has acknowledged; the sizes of the others, in order, follow. */
  private acked = 0;
  private readonly unacked: number[] = [];
  private unackedBytes = 0;
  /** The caller takes no more, or the invocation is over: nothing waits for room any longer. */
  private stopped = false;
  private room?: { promise: Promise<void>; resolve: () => void };
  /** While waiting for room: ends the wait when the caller has said nothing for too long. */
  private stall?: NodeJS.Timeout;
  private readonly acks?: Subscription;

  /** Pieces of the stream so far (after a `stop`, not sent): the reply says how many, so that a caller can tell the last were lost. */
  get sent(): number {
    return this.next;
  }

  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
    private readonly window?: number,
    private readonly stallMs = REPLY_ACK_STALL_MS,
  ) {
    // Subscribed before the first piece goes out, on the same connection: the server has the
    // interest before the caller can acknowledge anything.
    if (window) {
      this.acks = nc.subscribe(replyAckSubject(subject), {
        callback: (error, msg) => {
          if (!error) this.acknowledged(msg.string());
        },
      });
    }
  }

  send(bytes: Uint8Array): Promise<void> | undefined {
    if (this.stopped) {
      // Counted though not sent: a `stop` the caller did not send (anyone may publish one) must
      // not turn into a complete-looking stream that ends early.
      this.next += Math.ceil(bytes.byteLength / REPLY_CHUNK_BYTES);
      return undefined;
    }
    for (let at = 0; at < bytes.byteLength; at += REPLY_CHUNK_BYTES) {
      const piece = bytes.subarray(at, at + REPLY_CHUNK_BYTES);
      const h = headers();
      h.set(REPLY_CHUNK_HEADER, String(this.next++));
      this.nc.publish(this.subject, piece, { headers: h });
      if (!this.window) continue;
      this.unacked.push(piece.byteLength);
      this.unackedBytes += piece.byteLength;
    }
    if (!this.full()) return undefined;
    if (!this.room) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.room = { promise, resolve };
      this.awaitCaller();
    }
    return this.room.promise;
  }

  /** Ends the flow control: a writer waiting for room goes on. */
  close(): void {
    this.acks?.unsubscribe();
    this.stopped = true;
    this.makeRoom();
  }

  private full(): boolean {
    return this.window !== undefined && !this.stopped && (this.unackedBytes >= this.window || this.unacked.length >= REPLY_WINDOW_PIECES);
  }

  /** (Re)starts the wait for a word from the caller: with none, it is taken for gone. */
  private awaitCaller(): void {
    clearTimeout(this.stall);
    this.stall = setTimeout(() => {
      this.stopped = true;
      this.makeRoom();
    }, this.stallMs);
  }

  private acknowledged(text: string): void {
    // Any word from the caller, a repeated count too, says it is there.
    if (this.room) this.awaitCaller();
    if (text === REPLY_ACK_STOP) {
      this.stopped = true;
    } else {
      const count = Number(text);
      // Cumulative: an older or impossible count says nothing new.
      if (!Number.isSafeInteger(count) || count <= this.acked || count > this.next) return;
      for (; this.acked < count; this.acked += 1) this.unackedBytes -= this.unacked.shift() ?? 0;
    }
    if (!this.full()) this.makeRoom();
  }

  private makeRoom(): void {
    clearTimeout(this.stall);
    this.room?.resolve();
    this.room = undefined;
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
  flow?: Flow;
}

/** The taking side of a streamed result's flow control (see REPLY_ACK_SUFFIX). */
interface Flow {
  subject: string;
  /** The count last acknowledged, and what has been taken since. */
  acked: number;
  bytes: number;
  pieces: number;
  /** Pieces whose reader had no room for them yet. */
  held: number;
  /** Repeats the count (REPLY_ACK_INTERVAL_MS) from the first piece on. */
  repeat?: NodeJS.Timeout;
  stopped: boolean;
}

/** Bytes of a streamed result that may be on their way before this client has taken them. */
export const STREAM_WINDOW_BYTES = 4 * 1024 * 1024;

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
        this.endFlow(waiter, false);
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
      this.endFlow(waiter, true);
      waiter.resolve(streamBroken(requestId));
      return;
    }
    waiter.nextChunk += 1;
    let taken: ReturnType<ChunkSink> = undefined;
    try {
      taken = waiter.onChunk(data, requestId);
    } catch {
      // The caller's own failure must not end this connection's reader.
    }
    const flow = waiter.flow;
    if (!flow || flow.stopped) return;
    if (taken === false) return this.endFlow(waiter, true);
    flow.repeat ??= setInterval(() => this.acknowledge(waiter, flow, true), REPLY_ACK_INTERVAL_MS);
    flow.bytes += data.byteLength;
    flow.pieces += 1;
    if (!taken) return this.acknowledge(waiter, flow);
    flow.held += 1;
    const settled = (): void => {
      flow.held -= 1;
      this.acknowledge(waiter, flow);
    };
    taken.then(settled, settled);
  }

  /**
   * Tells the sender how many pieces have been taken, once a quarter of its window has been; or,
   * `again`, repeats the count (and what has been taken since, if nothing is held).
   */
  private acknowledge(waiter: Waiter, flow: Flow, again = false): void {
    if (flow.stopped) return;
    const quarter = flow.bytes >= STREAM_WINDOW_BYTES / 4 || flow.pieces >= REPLY_WINDOW_PIECES / 4;
    if (flow.held === 0 && (quarter || again)) {
      flow.acked = waiter.nextChunk;
      flow.bytes = 0;
      flow.pieces = 0;
    } else if (!again) {
      return;
    }
    this.tell(flow, String(flow.acked));
  }

  /** Ends a streamed result's flow control; `stop` tells the sender that nothing more is taken, so that the function runs on unhindered. */
  private endFlow(waiter: Waiter, stop: boolean): void {
    const flow = waiter.flow;
    if (!flow || flow.stopped) return;
    flow.stopped = true;
    clearInterval(flow.repeat);
    if (stop) this.tell(flow, REPLY_ACK_STOP);
  }

  private tell(flow: Flow, text: string): void {
    try {
      this.client.nc.publish(flow.subject, text);
    } catch {
      // The connection is closing: the sender stops waiting for want of a word (REPLY_ACK_STALL_MS).
    }
  }

  private async buildEvent(
    request: InvokeRequest,
    invocationtype: 'RequestResponse' | 'Event',
    extra: { replyto?: string; deadline?: number; responsemode?: 'streaming'; streamwindow?: number },
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

  /**
   * The event as JSON. A payload nested deeper than JSON.stringify can follow (a few thousand
   * levels; JSON.parse takes any) goes by reference instead, as the bytes the caller sent.
   */
  private async serialized(event: InvokeEvent, payload: string): Promise<string> {
    try {
      return JSON.stringify(event);
    } catch (error) {
      if (!(error instanceof RangeError) || event.data === undefined) throw error;
      delete event.data;
      event.dataref = await this.payloads.put(payload, event.id);
      return JSON.stringify(event);
    }
  }

  private async publish(event: InvokeEvent, payload: string): Promise<void> {
    await this.client.js.publish(invokeEventSubject(event.targetfunction, this.options.subjectRoot), await this.serialized(event, payload), {
      msgID: event.id,
      expect: { streamName: this.options.eventsStream },
    });
  }

  /** Resolves once JetStream holds the event: the API may answer 202. */
  async invokeAsync(request: InvokeRequest): Promise<string> {
    const event = await this.buildEvent(request, 'Event', {});
    await this.publish(event, request.payload);
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
    const replyto = `${this.inbox}.${requestId}`;
    const answer = new Promise<InvocationReply>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.pending.delete(requestId);
          this.endFlow(waiter, true);
          reject(new InvocationTimeoutError(requestId));
        }, waitMs),
        nextChunk: 0,
        ...(onChunk ? { onChunk, flow: { subject: replyAckSubject(replyto), acked: 0, bytes: 0, pieces: 0, held: 0, stopped: false } } : {}),
      };
      this.pending.set(requestId, waiter);
    });
    try {
      const event = await this.buildEvent({ ...request, requestId }, 'RequestResponse', {
        replyto,
        deadline,
        ...(onChunk ? { responsemode: 'streaming' as const, streamwindow: STREAM_WINDOW_BYTES } : {}),
      });
      await this.publish(event, request.payload);
    } catch (error) {
      const waiter = this.pending.get(requestId);
      if (waiter) {
        clearTimeout(waiter.timer);
        this.endFlow(waiter, false);
      }
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
      this.endFlow(waiter, true);
      waiter.reject(new Error('the API is shutting down'));
    }
    this.pending.clear();
  }
}
