import type { InvocationType, LogType, ResponseMode } from './cloud-event.js';

/** Version of the job and reply formats below; bump when a field changes meaning. */
export const INVOCATION_FORMAT = 1 as const;

/** BullMQ job data of one invocation. Persisted in Redis while queued. */
export interface InvocationJob {
  v: typeof INVOCATION_FORMAT;
  requestId: string;
  functionName: string;
  qualifier: string;
  /** The qualifier the caller named, if any (InvokeEvent's `invokedqualifier`). */
  invokedQualifier?: string;
  functionRevision: number;
  /** `createdAt` of the function the invocation was made for (InvokeEvent's `functioncreated`). */
  functionCreated?: string;
  invocationType: InvocationType;
  logType: LogType;
  /** The payload as JSON text, when small enough to travel inline. */
  payload?: string;
  /** Payload-store key when the payload travels by reference. */
  payloadRef?: string;
  replyTo?: string;
  deadline?: number;
  clientContext?: string;
  /** InvokeEvent's `responsemode`: the result goes to `replyTo` in pieces as it is written. */
  responseMode?: ResponseMode;
  /** InvokeEvent's `streamwindow`: pieces wait for the caller's acknowledgements past this many bytes. */
  streamWindow?: number;
  /** Epoch ms at which the event entered Tributary. */
  receivedAt: number;
}

/** Job names mapped to their payloads: a producer and a handler cannot disagree. */
export interface JobPayloads {
  invoke: InvocationJob;
}
export type JobName = keyof JobPayloads;
export type JobOf<N extends JobName> = JobPayloads[N];

/** Sync invocations go ahead of a function's async backlog (BullMQ runs unprioritized jobs first). */
export const ASYNC_JOB_PRIORITY = 10;

/** What a worker publishes on a sync caller's reply subject. */
export interface InvocationReply {
  v: typeof INVOCATION_FORMAT;
  requestId: string;
  /** HTTP status the Lambda API answers with. */
  statusCode: number;
  executedVersion: string;
  /** `Unhandled` when the function failed. */
  functionError?: 'Unhandled';
  /** Base64 of the last 4 KB of the invocation's log, when Tail was asked for. */
  logResult?: string;
  /** The result as JSON text, when small enough to travel inline. */
  payload?: string;
  payloadRef?: string;
  /** `base64`: the result is bytes that are not UTF-8 text, and the payload (inline or stored) is their base64. */
  payloadEncoding?: 'base64';
  /**
   * The result went to the reply subject in this many pieces ahead of this reply
   * (REPLY_CHUNK_HEADER): no payload here, unless the function failed once they had gone (its
   * error is then the payload). Fewer received means the last ones were lost.
   */
  streamed?: number;
  /** A platform error (not the function's): the API maps it to the Lambda error of that name. */
  serviceError?: { type: string; message: string; statusCode: number };
}

/**
 * A message on a reply subject that carries this header is a piece of a streamed result (a
 * `streaming` response mode): its data are the bytes, in the order written, and the header's value
 * is its sequence number from 0. The reply proper (InvocationReply, JSON) follows the last piece,
 * from the same publisher, so it arrives after them; a gap in the numbers means pieces were lost.
 */
export const REPLY_CHUNK_HEADER = 'Tributary-Chunk';

/** Bytes per piece of a streamed result (AWS's PayloadChunk events carry up to 64 KB, too). */
export const REPLY_CHUNK_BYTES = 64 * 1024;

/**
 * Flow control of a streamed result whose event has a `streamwindow`. The caller acknowledges the
 * pieces it has taken on `replyAckSubject(replyto)`: the message's data are the count of pieces
 * taken so far (cumulative), or REPLY_ACK_STOP once it takes no more (its own caller went away):
 * the rest need not be sent. The publisher stops sending while `streamwindow` bytes or
 * REPLY_WINDOW_PIECES pieces are unacknowledged, and holds the function's writes back meanwhile.
 * The caller acknowledges once it has taken a quarter of either since its last acknowledgement,
 * and, from its first piece on, repeats its count every REPLY_ACK_INTERVAL_MS: core NATS may lose
 * a message, and a sender waiting for one would hold the function until its timeout. A sender
 * that has waited REPLY_ACK_STALL_MS without a word from its caller takes it for gone, as after a
 * stop.
 */
export const REPLY_ACK_SUFFIX = 'ack';
export const REPLY_ACK_STOP = 'stop';
export const REPLY_WINDOW_PIECES = 256;
export const REPLY_ACK_INTERVAL_MS = 1000;
export const REPLY_ACK_STALL_MS = 10_000;
export const replyAckSubject = (replyTo: string): string => `${replyTo}.${REPLY_ACK_SUFFIX}`;
/** The largest `streamwindow` an event may ask for. */
export const REPLY_WINDOW_MAX_BYTES = 64 * 1024 * 1024;
