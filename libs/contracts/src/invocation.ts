import type { InvocationType, LogType } from './cloud-event.js';

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
  /** A platform error (not the function's): the API maps it to the Lambda error of that name. */
  serviceError?: { type: string; message: string; statusCode: number };
}
