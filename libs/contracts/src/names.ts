/**
 * Names of persisted NATS and Redis resources. They outlive a deploy: changing one strands the
 * data under the old name, so treat every value here as a migration, not a refactor.
 * Each can be overridden by configuration so that tests can use their own.
 */
export const DEFAULT_NAMES = {
  /** JetStream stream that carries every normalized event (subjects `events.>`). */
  eventsStream: 'EVENTS',
  /** Durable consumer of the dispatcher on the events stream. */
  dispatcherConsumer: 'dispatcher',
  /** KV bucket: function name → FunctionRecord (JSON). */
  functionsBucket: 'tributary_functions',
  /** KV bucket: bucket name → BucketNotification (the bucket's function triggers, JSON). */
  triggersBucket: 'tributary_s3_triggers',
  /** Object store: deployment packages, keyed by their SHA-256 in hex. */
  codeStore: 'tributary_code',
  /** Object store: payloads and results too large for a NATS message (claim checks). */
  payloadStore: 'tributary_payloads',
  /** BullMQ key prefix in Redis. */
  queuePrefix: 'tributary',
  /** Prefix of every core-NATS subject Tributary uses outside the events stream. */
  subjectPrefix: 'tributary',
} as const;

export type ResourceNames = { -readonly [K in keyof typeof DEFAULT_NAMES]: string };

/** Subject filter of the events stream for a given stream subject root. */
export const eventsStreamSubjects = (root = 'events'): string[] => [`${root}.>`];

/** Subject an invoke event is published on. */
export const invokeEventSubject = (functionName: string, root = 'events'): string =>
  `${root}.invoke.${functionName}`;

/** Subject an S3 object event is published on (the bucket is in the event's `source`). */
export const s3EventSubject = (root = 'events'): string => `${root}.s3`;

/** Core-NATS subject on which the dispatcher announces that a function's queue has work. */
export const workAnnounceSubject = (functionName: string, prefix: string = DEFAULT_NAMES.subjectPrefix): string =>
  `${prefix}.work.${functionName}`;

/** Wildcard the workers subscribe to for work announcements. */
export const workAnnounceWildcard = (prefix: string = DEFAULT_NAMES.subjectPrefix): string => `${prefix}.work.*`;

/** Core-NATS subject carrying the log output of each invocation of a function. */
export const functionLogSubject = (functionName: string, prefix: string = DEFAULT_NAMES.subjectPrefix): string =>
  `${prefix}.logs.${functionName}`;

/** Prefix of the per-request inboxes sync callers wait on. */
export const replyInboxPrefix = (prefix: string = DEFAULT_NAMES.subjectPrefix): string => `${prefix}.reply`;

/**
 * BullMQ queue of one function. Function names are `[A-Za-z0-9_-]`, so the name needs no
 * escaping; BullMQ forbids `:` in queue names, which a function name cannot contain.
 */
export const functionQueueName = (functionName: string): string => `fn.${functionName}`;

/** Inverse of functionQueueName; undefined for a queue that is not a function's. */
export const functionNameOfQueue = (queueName: string): string | undefined =>
  queueName.startsWith('fn.') ? queueName.slice(3) : undefined;
