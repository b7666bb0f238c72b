import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { S3NotificationDto, s3EventSubject, validateDto, type CloudEvent, type S3EventRecord } from '@tributary/contracts';
import { NatsClient } from '@tributary/nats';
import { METRICS_REGISTRY } from '@tributary/observability';
import { normalizeS3Record } from '@tributary/s3';

export const INGEST_SETTINGS = Symbol('INGEST_SETTINGS');
export interface IngestSettings {
  eventsStream: string;
  subjectRoot: string;
  region: string;
  token?: string;
}

/** An answer for the store that sent the notification: MinIO retries on 5xx, not on 4xx. */
export class IngestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Bucket notifications in, one CloudEvent per record out, acknowledged once JetStream has them. */
@Injectable()
export class WebhookService {
  private readonly logger = new Logger(WebhookService.name);
  private readonly received: Counter<'outcome'>;

  constructor(
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(INGEST_SETTINGS) private readonly settings: IngestSettings,
    @Inject(METRICS_REGISTRY) metrics: Registry,
  ) {
    this.received = new Counter({
      name: 'tributary_s3_ingest_notifications_total',
      help: 'Bucket notifications received, by outcome',
      labelNames: ['outcome'],
      registers: [metrics],
    });
  }

  authorize(header: string | undefined): void {
    if (!this.settings.token) return;
    if (header !== `Bearer ${this.settings.token}`) {
      this.received.inc({ outcome: 'unauthorized' });
      throw new IngestError(401, header ? 'the bearer token is wrong' : 'an Authorization: Bearer token is required');
    }
  }

  /** Returns how many events were published. */
  async ingest(body: Buffer | undefined): Promise<number> {
    let parsed: unknown;
    try {
      parsed = JSON.parse((body ?? Buffer.alloc(0)).toString('utf8'));
    } catch (error) {
      return this.reject(`the body is not JSON: ${(error as Error).message}`);
    }
    // S3's s3:TestEvent (sent when a configuration is saved) is valid and runs nothing.
    if (typeof parsed === 'object' && parsed !== null && (parsed as { Event?: string }).Event === 's3:TestEvent') {
      this.received.inc({ outcome: 'test_event' });
      return 0;
    }
    // Said on its own: class-validator would list every constraint of a member that is not there.
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && (parsed as { Records?: unknown }).Records === undefined) {
      return this.reject('Records is required: a notification is {"Records": [ … ]} (or s3:TestEvent)');
    }
    const checked = validateDto(S3NotificationDto, parsed);
    if (!checked.ok) {
      return this.reject(checked.violations.map((v) => `${v.path || 'body'}: ${v.constraints.join(', ')}`).join('; '));
    }
    if (checked.value.Records.length === 0) return this.reject('Records is empty: a notification needs at least one record');
    if (!this.nats.connected) {
      this.received.inc({ outcome: 'unavailable' });
      throw new IngestError(503, 'the event bus is unavailable; retry later');
    }
    // A change S3 notifies no function of (MinIO's retention and legal-hold events) is taken and dropped.
    const events = checked.value.Records.flatMap((r) => normalizeS3Record(r, this.settings.region) ?? []);
    if (events.length === 0) {
      this.received.inc({ outcome: 'ignored' });
      return 0;
    }
    const messages = events.map(({ id, bucket, key, record }) => {
      const event: CloudEvent<S3EventRecord> = {
        specversion: '1.0',
        id,
        source: `s3://${bucket}`,
        type: `s3.${record.eventName}`,
        subject: key,
        time: record.eventTime,
        datacontenttype: 'application/json',
        partitionkey: `${bucket}/${key}`,
        data: record,
      };
      return { id, text: JSON.stringify(event) };
    });
    // Checked before any is published: a record the bus can never take must not turn the whole
    // notification into a 503, which the store retries for ever, running the others again.
    const limit = this.nats.maxPayload;
    const oversized = messages.findIndex((m) => Buffer.byteLength(m.text) > limit);
    if (oversized >= 0) return this.reject(`Records[${oversized}] is over the ${limit}-byte limit of one event on the bus`);
    try {
      await Promise.all(
        messages.map(({ id, text }) =>
          this.nats.js.publish(s3EventSubject(this.settings.subjectRoot), text, {
            msgID: id,
            expect: { streamName: this.settings.eventsStream },
            timeout: 2000,
          }),
        ),
      );
    } catch (error) {
      this.received.inc({ outcome: 'unavailable' });
      this.logger.warn(`could not publish ${events.length} S3 event(s): ${(error as Error).message}`);
      throw new IngestError(503, 'the event bus did not take the events; retry later');
    }
    this.received.inc({ outcome: 'published' }, events.length);
    return events.length;
  }

  private reject(message: string): never {
    this.received.inc({ outcome: 'rejected' });
    throw new IngestError(400, message);
  }
}
