import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { Counter, type Registry } from 'prom-client';
import { createHash } from 'node:crypto';
import {
  CloudEventDto,
  INVOCATION_FORMAT,
  InvokeEventDto,
  LATEST,
  functionArn,
  isSameFunction,
  validateDto,
  workAnnounceSubject,
  type InvocationReply,
  type InvocationJob,
  type InvokeEvent,
  type S3EventRecord,
} from '@tributary/contracts';
import { NatsClient, terminate } from '@tributary/nats';
import { METRICS_REGISTRY } from '@tributary/observability';
import { InvocationQueues, invocationJobFromEvent, WorkAnnouncer } from '@tributary/queue';
import { FunctionRegistry, TriggerRegistry } from '@tributary/registry';
import { matchingTriggers } from '@tributary/s3';

export const DISPATCH_SETTINGS = Symbol('DISPATCH_SETTINGS');
export interface DispatchSettings {
  subjectPrefix: string;
  region: string;
  accountId: string;
  /** A function's queue is announced to the workers at most this often (WorkAnnouncer). */
  announceIntervalMs: number;
}

/**
 * Turns one event from the stream into BullMQ jobs. Terminal problems (a malformed event, a
 * function that no longer exists) `term()` the message; transient ones (Redis down) `nak` it
 * with a delay. The message is acknowledged only after Redis holds the job.
 */
@Injectable()
export class DispatchService implements OnApplicationShutdown {
  private readonly logger = new Logger(DispatchService.name);
  private readonly dispatched: Counter<'outcome'>;
  private readonly announcer: WorkAnnouncer;

  constructor(
    @Inject(InvocationQueues) private readonly queues: InvocationQueues,
    @Inject(FunctionRegistry) private readonly registry: FunctionRegistry,
    @Inject(TriggerRegistry) private readonly triggers: TriggerRegistry,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings,
    @Inject(METRICS_REGISTRY) metrics: Registry,
  ) {
    this.announcer = new WorkAnnouncer((name) => this.nats.nc.publish(workAnnounceSubject(name, settings.subjectPrefix)), settings.announceIntervalMs);
    this.dispatched = new Counter({
      name: 'tributary_dispatcher_events_total',
      help: 'Events taken from the events stream, by outcome',
      labelNames: ['outcome'],
      registers: [metrics],
    });
  }

  /** Sends the announcements still held back; called once the consumer has stopped. */
  flushAnnouncements(): void {
    this.announcer.flush();
  }

  onApplicationShutdown(): void {
    this.announcer.flush(); // nothing left, unless the consumer never stopped
  }

  async handle(msg: JsMsg): Promise<void> {
    let body: unknown;
    try {
      body = msg.json<unknown>();
    } catch {
      return this.reject(msg, 'not JSON');
    }
    // Each event is validated once, against the DTO of its type (an invoke event's DTO includes the envelope's).
    if ((body as { type?: unknown } | null)?.type !== 'invoke') {
      const envelope = validateDto(CloudEventDto, body, { shallow: true });
      if (!envelope.ok) return this.reject(msg, `not a CloudEvent: ${envelope.violations.map((v) => v.path).join(', ')}`);
      if (envelope.value.type.startsWith('s3.')) return this.routeS3(msg, body as CloudEventDto & { data: S3EventRecord });
      return this.reject(msg, `no route for events of type ${envelope.value.type}`);
    }
    const result = validateDto(InvokeEventDto, body, { shallow: true });
    if (!result.ok) return this.reject(msg, `not a valid invoke event: ${result.violations.map((v) => v.path).join(', ')}`);
    const event = body as InvokeEvent;
    if (event.deadline !== undefined && event.deadline < Date.now()) {
      this.dispatched.inc({ outcome: 'expired' });
      this.logger.warn({ msg: 'sync invocation expired before dispatch; dropped', eventId: event.id });
      terminate(msg);
      return;
    }
    // The API saw this revision; a lagging watch falls back to a direct read before giving up.
    const entry = await this.registry.getFresh(event.targetfunction, event.functionrevision);
    if (!entry || !isSameFunction(entry.record, event.functioncreated)) {
      this.answerMissingFunction(event);
      return this.reject(msg, `function ${event.targetfunction} does not exist`, 'unknown_function');
    }
    let job: InvocationJob;
    try {
      job = invocationJobFromEvent(event);
    } catch (error) {
      // Data nested too deeply to write out again: published by hand (the API refuses it).
      if (!(error instanceof RangeError)) throw error;
      this.answerSync(event, { type: 'InvalidRequestContentException', statusCode: 400, message: 'Could not parse request body into json' });
      return this.reject(msg, `event ${event.id}: data nested too deeply`);
    }
    try {
      await this.queues.enqueue(job);
    } catch (error) {
      // An async event waits in the stream until Redis is back (the consumer naks it). A sync
      // caller is told now, not when its wait runs out, as a 500 its SDK retries; what failed
      // (Redis's address, say) is for our log, not for callers.
      if (!event.replyto) throw error;
      this.answerSync(event, { type: 'ServiceException', statusCode: 500, message: 'The invocation could not be queued; try again.' });
      return this.reject(msg, `sync invocation ${event.id} not queued: ${(error as Error).message}`, 'queue_unavailable');
    }
    msg.ack();
    this.announcer.announce(event.targetfunction);
    this.dispatched.inc({ outcome: 'queued' });
  }

  /** An object event runs every function whose bucket trigger matches its type and key. */
  private async routeS3(msg: JsMsg, event: CloudEventDto & { data: S3EventRecord }): Promise<void> {
    const record = event.data;
    const bucket = record?.s3?.bucket?.name;
    if (typeof bucket !== 'string' || typeof record.s3.object?.key !== 'string' || typeof record.eventName !== 'string') {
      return this.reject(msg, 'S3 event without bucket, key or event name');
    }
    const targets: string[] = [];
    for (const trigger of matchingTriggers(this.triggers.get(bucket), record)) {
      const entry = await this.registry.getFresh(trigger.functionName, 0);
      if (!entry) {
        this.logger.warn({ msg: `bucket ${bucket} trigger ${trigger.id} names a function that no longer exists`, eventId: event.id });
        continue;
      }
      let payload: string;
      try {
        payload = JSON.stringify({ Records: [{ ...record, s3: { ...record.s3, configurationId: trigger.id } }] });
      } catch (error) {
        // A record nested too deeply to write out (published by hand: s3-ingest refuses it). It
        // fails at the first trigger, before any job: each trigger's payload is the same record.
        if (!(error instanceof RangeError)) throw error;
        return this.reject(msg, 'S3 event nested too deeply');
      }
      const triggerId = `s3-${createHash('sha256').update(`${bucket}\u0000${trigger.id}`).digest('hex').slice(0, 16)}`;
      const job: InvocationJob = {
        v: INVOCATION_FORMAT,
        requestId: deterministicUuid(`${triggerId}/${event.id}`),
        functionName: trigger.functionName,
        qualifier: LATEST,
        functionRevision: entry.revision,
        functionCreated: entry.record.createdAt,
        invocationType: 'Event',
        logType: 'None',
        payload,
        receivedAt: Date.parse(event.time) || Date.now(),
      };
      await this.queues.enqueue(job, triggerId);
      targets.push(trigger.functionName);
    }
    msg.ack();
    for (const name of new Set(targets)) this.announcer.announce(name);
    this.dispatched.inc({ outcome: targets.length > 0 ? 'queued' : 'no_trigger' });
  }

  private reject(msg: JsMsg, reason: string, outcome = 'malformed'): void {
    this.dispatched.inc({ outcome });
    this.logger.warn({ msg: `event dropped: ${reason}`, seq: msg.seq });
    terminate(msg);
  }

  /** A sync caller must not wait out its timeout for a function deleted in the meantime. */
  private answerMissingFunction(event: InvokeEvent): void {
    this.answerSync(event, {
      type: 'ResourceNotFoundException',
      statusCode: 404,
      message: `Function not found: ${functionArn({ region: this.settings.region, accountId: this.settings.accountId }, event.targetfunction)}`,
    });
  }

  /** Answers a sync caller with an error of the API's, for an invocation that will not run. */
  private answerSync(event: InvokeEvent, serviceError: NonNullable<InvocationReply['serviceError']>): void {
    if (!event.replyto) return;
    const reply: InvocationReply = { v: INVOCATION_FORMAT, requestId: event.id, statusCode: serviceError.statusCode, executedVersion: event.qualifier, serviceError };
    this.nats.nc.publish(event.replyto, JSON.stringify(reply));
  }
}

/** A UUID-shaped id derived from a string: the same trigger and event always get the same request id. */
const deterministicUuid = (seed: string): string => {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
