/**
 * CloudEvents 1.0 envelope (JSON, structured mode) of everything on the events stream.
 * `id` is stable for one source change, so JetStream de-duplicates it by `Nats-Msg-Id`.
 */
export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject?: string;
  time: string;
  datacontenttype?: string;
  /** CloudEvents partitioning extension: the ordering key. */
  partitionkey?: string;
  /** CloudEvents claim-check extension: payload-store key of a payload too big to inline. */
  dataref?: string;
  data?: T;
}

export const EVENT_TYPES = {
  invoke: 'invoke',
} as const;

export type InvocationType = 'RequestResponse' | 'Event';
export type LogType = 'None' | 'Tail';
export type ResponseMode = 'streaming';

/** Extension attributes of an `invoke` event (CloudEvents extension names are lower-case). */
export interface InvokeEventExtensions {
  /** Target function name. */
  targetfunction: string;
  qualifier: string;
  /**
   * The qualifier the caller named ($LATEST, a version or an alias), absent when it named none:
   * the handler's `context.invokedFunctionArn` ends with it.
   */
  invokedqualifier?: string;
  invocationtype: InvocationType;
  logtype: LogType;
  /** Registry revision of the function the API saw; a worker with an older index reads KV. */
  functionrevision: number;
  /**
   * When the function the API resolved was created (its record's `createdAt`). A function deleted
   * and created again under the same name is another function: it does not run this event.
   * Absent from events of publishers that do not know it; those run on whatever has the name.
   */
  functioncreated?: string;
  /** Sync only: core-NATS subject the caller waits on. */
  replyto?: string;
  /** Sync only: epoch ms after which nobody waits for the answer. */
  deadline?: number;
  /** Base64 client context (X-Amz-Client-Context). */
  clientcontext?: string;
  /**
   * Sync only: `streaming` (InvokeWithResponseStream) sends a streaming handler's bytes to
   * `replyto` as it writes them, ahead of the reply (see REPLY_CHUNK_HEADER).
   */
  responsemode?: ResponseMode;
  /**
   * Sync streaming only: bytes of pieces the caller lets be in flight before it has taken them
   * (flow control, see REPLY_ACK_SUFFIX). Without it the pieces go as fast as the function writes.
   */
  streamwindow?: number;
}

export type InvokeEvent = CloudEvent<unknown> & InvokeEventExtensions;
