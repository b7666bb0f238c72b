import { Inject, Injectable, Logger } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { Counter, type Registry } from 'prom-client';
import {
  INVOCATION_FORMAT,
  InvokeEventDto,
  functionArn,
  validateDto,
  workAnnounceSubject,
  type InvocationReply,
  type InvokeEvent,
} from '@tributary/contracts';
import { NatsClient } from '@tributary/nats';
import { METRICS_REGISTRY } from '@tributary/observability';
import { InvocationQueues, invocationJobFromEvent } from '@tributary/queue';
import { FunctionRegistry } from '@tributary/registry';

export const DISPATCH_SETTINGS = Symbol('DISPATCH_SETTINGS');
export interface DispatchSettings {
  subjectPrefix: string;
  region: string;
  accountId: string;
}

/**
 * Turns one event from the stream into BullMQ jobs. Terminal problems (a malformed event, a
 * function that no longer exists) `term()` the message; transient ones (Redis down) `nak` it
 * with a delay. The message is acknowledged only after Redis holds the job.
 */
@Injectable()
export class DispatchService {
  private readonly logger = new Logger(DispatchService.name);
  private readonly dispatched: Counter<'outcome'>;

  constructor(
    @Inject(InvocationQueues) private readonly queues: InvocationQueues,
    @Inject(FunctionRegistry) private readonly registry: FunctionRegistry,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings,
    @Inject(METRICS_REGISTRY) metrics: Registry,
  ) {
    this.dispatched = new Counter({
      name: 'tributary_dispatcher_events_total',
      help: 'Events taken from the events stream, by outcome',
      labelNames: ['outcome'],
      registers: [metrics],
    });
  }

  async handle(msg: JsMsg): Promise<void> {
    let body: unknown;
    try {
      body = msg.json<unknown>();
    } catch {
      return this.reject(msg, 'not JSON');
    }
    const result = validateDto(InvokeEventDto, body);
    if (!result.ok) {
      // Only invoke events exist so far; trigger matching for other sources arrives with them.
      return this.reject(msg, `not a valid invoke event: ${result.violations.map((v) => v.path).join(', ')}`);
    }
    const event = body as InvokeEvent;
    if (event.deadline !== undefined && event.deadline < Date.now()) {
      this.dispatched.inc({ outcome: 'expired' });
      this.logger.warn({ msg: 'sync invocation expired before dispatch; dropped', eventId: event.id });
      msg.term('caller no longer waiting');
      return;
    }
    // The API saw this revision; a lagging watch falls back to a direct read before giving up.
    const entry = await this.registry.getFresh(event.targetfunction, event.functionrevision);
    if (!entry) {
      this.answerMissingFunction(event);
      return this.reject(msg, `function ${event.targetfunction} does not exist`, 'unknown_function');
    }
    await this.queues.enqueue(invocationJobFromEvent(event));
    msg.ack();
    this.nats.nc.publish(workAnnounceSubject(event.targetfunction, this.settings.subjectPrefix));
    this.dispatched.inc({ outcome: 'queued' });
  }

  private reject(msg: JsMsg, reason: string, outcome = 'malformed'): void {
    this.dispatched.inc({ outcome });
    this.logger.warn({ msg: `event dropped: ${reason}`, seq: msg.seq });
    msg.term(reason);
  }

  /** A sync caller must not wait out its timeout for a function deleted in the meantime. */
  private answerMissingFunction(event: InvokeEvent): void {
    if (!event.replyto) return;
    const reply: InvocationReply = {
      v: INVOCATION_FORMAT,
      requestId: event.id,
      statusCode: 404,
      executedVersion: event.qualifier,
      serviceError: {
        type: 'ResourceNotFoundException',
        statusCode: 404,
        message: `Function not found: ${functionArn({ region: this.settings.region, accountId: this.settings.accountId }, event.targetfunction)}`,
      },
    };
    this.nats.nc.publish(event.replyto, JSON.stringify(reply));
  }
}
