import { Logger } from '@nestjs/common';
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { NatsClient } from './nats-client.js';

export interface DurableConsumerOptions {
  stream: string;
  durable: string;
  filterSubject?: string;
  /** Redelivery delay of a message that was handed out but neither acked nor nak'ed. */
  ackWaitMs: number;
  /** Messages handled at the same time (and held un-acked by this process at most). */
  concurrency: number;
}

const nanos = (ms: number): number => ms * 1_000_000;

/**
 * How long each pull request waits on the server (nats.js's default is 30 s). It also sets how
 * soon the consumer recovers after NATS comes back: nats.js checks the consumer once on reconnect
 * and, if that fails (JetStream still starting), tries again only after 0.5–1.5 × this, so the
 * default stalled the dispatcher for 15–45 s after a NATS restart. Server heartbeats come every
 * half of it: a pull the server lost is noticed after two missed ones. An idle consumer sends one
 * small pull per period.
 */
const PULL_EXPIRES_MS = 5_000;

/**
 * Ends a message's deliveries for good (JetStream's `+TERM`), for a message no retry can help;
 * log why beside it. No reason travels with it: nats-server before 2.10.4 (Debian 12 ships 2.9.10)
 * does not know `+TERM <reason>`, ignores the ack and redelivers the message after every ack wait,
 * for ever, each holding a slot of the consumer's max_ack_pending.
 */
export const terminate = (msg: JsMsg): void => msg.term();

/**
 * The delivery at which a message whose handler fails with an error only its data can cause is
 * given up (terminated): JSON nested too deeply to walk (RangeError "Maximum call stack size
 * exceeded"), text that is not Unicode (URIError). Such a message fails the same way every time,
 * and redelivered for ever it would hold one of the consumer's max_ack_pending slots for good:
 * enough of them stop the consumer for every function. The handlers refuse the cases they know
 * at the first delivery; this is the net under them. Any other failure is retried for as long as
 * it lasts: Redis or NATS away, and a TypeError too, which a bug in a new build throws for every
 * message alike (retried, they wait for the fix rather than being dropped).
 */
export const POISON_DELIVERIES = 3;

const isPoison = (error: unknown): boolean =>
  (error instanceof RangeError && /call stack/i.test(error.message)) || error instanceof URIError;

/**
 * A JetStream durable pull consumer that hands messages to `handle` with bounded concurrency and
 * stops gracefully: on `stop()` it takes no more messages, gives back the ones it holds but has
 * not started (nak, so another replica gets them now), and waits for those in progress.
 * `handle` must ack, nak or term every message it is given.
 */
export class DurableConsumer {
  private readonly logger = new Logger(DurableConsumer.name);
  private messages?: ConsumerMessages;
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;
  private loop?: Promise<void>;
  private restart?: NodeJS.Timeout;
  private restarting?: Promise<void>;

  /**
   * @param prepare runs before every (re)start: it makes sure the stream exists, so that a lost
   *   stream (JetStream storage wiped, an operator's `nats stream rm`) is made again, not waited for.
   */
  constructor(
    private readonly client: NatsClient,
    private readonly options: DurableConsumerOptions,
    private readonly prepare?: () => Promise<void>,
  ) {}

  /** Whether messages are being taken: false while the consumer is being made again. */
  get consuming(): boolean {
    return this.messages !== undefined;
  }

  async start(handle: (msg: JsMsg) => Promise<void>): Promise<void> {
    const { stream, durable } = this.options;
    await this.prepare?.();
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.options.ackWaitMs),
      max_ack_pending: Math.max(1000, this.options.concurrency * 4),
      ...(this.options.filterSubject ? { filter_subject: this.options.filterSubject } : {}),
    };
    const existing = await this.client.jsm.consumers.info(stream, durable).catch(() => undefined);
    if (!existing) await this.client.jsm.consumers.add(stream, config);
    else if (existing.config.ack_wait !== config.ack_wait) await this.client.jsm.consumers.update(stream, durable, { ack_wait: config.ack_wait });
    const consumer = await this.client.js.consumers.get(stream, durable);
    // By default nats.js waits, without end and without a word, for a deleted consumer or stream
    // to come back: nothing would make them again. Aborting ends the loop below, which restarts.
    const messages = await consumer.consume({ max_messages: this.options.concurrency * 2, expires: PULL_EXPIRES_MS, abort_on_missing_resource: true });
    if (this.stopping) {
      // stop() ran while this (re)start was under way.
      await messages.close();
      return;
    }
    this.messages = messages;
    this.loop = this.run(messages, handle).catch((error: unknown) => {
      // The message iterator failed (the consumer or stream was deleted, permissions changed, …):
      // start again after a pause rather than die or stop consuming quietly.
      if (this.messages === messages) this.messages = undefined;
      this.logger.error(`consuming ${stream} as ${durable} failed: ${String(error)}`);
      this.restartAfter(handle, 1000);
    });
  }

  private restartAfter(handle: (msg: JsMsg) => Promise<void>, delayMs: number): void {
    if (this.stopping) return;
    this.logger.warn(`starting the consumer again in ${delayMs} ms`);
    this.restart = setTimeout(() => {
      this.restarting = this.start(handle).catch((error: unknown) => {
        this.logger.error(`could not start the consumer: ${String(error)}`);
        // Capped low for the same reason as PULL_EXPIRES_MS: NATS back, the consumer is soon too.
        this.restartAfter(handle, Math.min(PULL_EXPIRES_MS, delayMs * 2));
      });
    }, delayMs);
  }

  private async run(messages: ConsumerMessages, handle: (msg: JsMsg) => Promise<void>): Promise<void> {
    for await (const msg of messages) {
      if (this.stopping) {
        msg.nak();
        continue;
      }
      while (this.inFlight.size >= this.options.concurrency) await Promise.race(this.inFlight);
      const task = handle(msg)
        .catch((error: unknown) => {
          if (isPoison(error) && msg.info.deliveryCount >= POISON_DELIVERIES) {
            this.logger.error(`message ${msg.seq} dropped after ${msg.info.deliveryCount} deliveries: it failed with ${String(error)}, which no retry mends`);
            terminate(msg);
            return;
          }
          // Backing off (1 s doubling to a minute) keeps a message that keeps failing from spinning.
          const delay = Math.min(60_000, 1000 * 2 ** Math.min(6, msg.info.deliveryCount - 1));
          this.logger.error(`handler failed for message ${msg.seq} (delivery ${msg.info.deliveryCount}); redelivered in ${delay} ms: ${String(error)}`);
          msg.nak(delay);
        })
        .finally(() => this.inFlight.delete(task));
      this.inFlight.add(task);
    }
    if (!this.stopping) throw new Error('the consumer stopped delivering messages');
  }

  /** Number of messages being handled right now. */
  get busy(): number {
    return this.inFlight.size;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restart);
    await this.restarting;
    await this.messages?.close();
    await this.loop?.catch(() => undefined);
    await Promise.all(this.inFlight);
  }
}
