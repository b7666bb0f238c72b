import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import {
  S3_EVENT_TYPES,
  parseFunctionName,
  s3EventMatches,
  type BucketNotification,
  type LambdaTrigger,
  type S3EventRecord,
} from '@tributary/contracts';

/** An error answered in S3's XML shape. */
export class S3Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.name = code;
  }

  toXml(resource: string, requestId: string): string {
    return new XMLBuilder({}).build({
      Error: { Code: this.code, Message: this.message, ...this.extra, Resource: resource, RequestId: requestId },
    }) as string;
  }
}

const malformed = () =>
  new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');

const ARRAYS = new Set(['CloudFunctionConfiguration', 'LambdaFunctionConfiguration', 'Event', 'FilterRule', 'TopicConfiguration', 'QueueConfiguration']);
const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true, isArray: (name) => ARRAYS.has(name) });

interface RawRule { Name?: string; Value?: string }
interface RawConfig {
  Id?: string;
  CloudFunction?: string;
  Function?: string;
  Event?: string[];
  Filter?: { S3Key?: { FilterRule?: RawRule[] } };
}

let generatedIds = 0;

/**
 * Parses a PutBucketNotificationConfiguration body (the CLI and SDKs send the function triggers
 * as `CloudFunctionConfiguration`; `LambdaFunctionConfiguration` is accepted too). `maxBytes` is
 * the most the stored configuration (its JSON) may take; a larger one is refused before its
 * rules are compared.
 */
export const parseNotificationXml = (bucket: string, xml: string, maxBytes = Infinity): BucketNotification => {
  if (!xml.trim() || XMLValidator.validate(xml) !== true) throw malformed();
  const doc = parser.parse(xml) as { NotificationConfiguration?: Record<string, unknown> | '' };
  if (doc.NotificationConfiguration === undefined) throw malformed();
  const root = (doc.NotificationConfiguration || {}) as Record<string, unknown>;
  if (root['TopicConfiguration'] || root['QueueConfiguration']) {
    throw new S3Error('InvalidArgument', 'Only function (Lambda) destinations are supported by Tributary', 400, { ArgumentName1: 'Destination' });
  }
  const configs = [...((root['CloudFunctionConfiguration'] as RawConfig[]) ?? []), ...((root['LambdaFunctionConfiguration'] as RawConfig[]) ?? [])];
  const lambda = configs.map((raw): LambdaTrigger => {
    const arn = raw.CloudFunction ?? raw.Function;
    if (!arn || !raw.Event || raw.Event.length === 0) throw malformed();
    for (const event of raw.Event) {
      if (!(S3_EVENT_TYPES as readonly string[]).includes(event.replace(/^s3:/, '')) || !event.startsWith('s3:')) {
        throw new S3Error('InvalidArgument', 'The event is not supported for notifications', 400, { ArgumentName1: event, ArgumentValue1: event });
      }
    }
    const parsed = parseFunctionName(arn);
    if (!parsed) throw new S3Error('InvalidArgument', 'Unable to validate the following destination configurations', 400, { ArgumentName1: arn, ArgumentValue1: 'Not a function ARN' });
    const rules = raw.Filter?.S3Key?.FilterRule ?? [];
    const trigger: LambdaTrigger = { id: raw.Id || `tributary-${Date.now().toString(36)}-${(generatedIds += 1)}`, functionArn: arn, functionName: parsed.name, events: raw.Event };
    for (const rule of rules) {
      const name = (rule.Name ?? '').toLowerCase();
      if ((name !== 'prefix' && name !== 'suffix') || trigger[name] !== undefined) {
        throw new S3Error('InvalidArgument', 'FilterRule name must be either prefix or suffix, and each at most once', 400, { ArgumentName1: 'FilterRule.Name', ArgumentValue1: rule.Name ?? '' });
      }
      trigger[name] = rule.Value ?? '';
    }
    return trigger;
  });
  const notification: BucketNotification = { v: 1, bucket, lambda };
  const bytes = Buffer.byteLength(JSON.stringify(notification));
  if (bytes > maxBytes) {
    throw new S3Error('EntityTooLarge', `The notification configuration takes ${bytes} bytes stored; this installation keeps at most ${maxBytes} per bucket`, 400, {
      ProposedSize: String(bytes),
      MaxSizeAllowed: String(maxBytes),
    });
  }
  checkOverlaps(lambda);
  return notification;
};

/** The event types a record can carry, each with its bit in an event list's mask. */
const CONCRETE_EVENTS = S3_EVENT_TYPES.filter((t) => !t.endsWith('*'));
// A mask is a 32-bit integer: more types need another representation.
if (CONCRETE_EVENTS.length > 31) throw new Error(`${CONCRETE_EVENTS.length} S3 event types do not fit an event mask`);

/** The concrete event types an event list matches, as a bit mask. */
const eventMask = (events: string[]): number =>
  CONCRETE_EVENTS.reduce((mask, type, bit) => (events.some((e) => s3EventMatches(e, type)) ? mask | (1 << bit) : mask), 0);

const suffixesOverlap = (a: string, b: string): boolean => a.endsWith(b) || b.endsWith(a);

/**
 * S3 refuses two rules that could both match one object for the same event type: their event
 * lists share a type, one prefix starts the other and one suffix ends the other. Sorted by
 * prefix, the rules whose prefix starts with a rule's own follow it in one run, so each rule is
 * compared only with those (and most configurations, with distinct prefixes, cost n log n).
 */
const checkOverlaps = (triggers: LambdaTrigger[]): void => {
  const ids = new Set<string>();
  for (const t of triggers) {
    if (ids.has(t.id)) throw new S3Error('InvalidArgument', 'Same ID used for multiple configurations', 400, { ArgumentName1: 'Id', ArgumentValue1: t.id });
    ids.add(t.id);
  }
  const rules = triggers
    .map((t) => ({ events: t.events, mask: eventMask(t.events), prefix: t.prefix ?? '', suffix: t.suffix ?? '' }))
    .sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
  rules.forEach((a, i) => {
    for (let j = i + 1; j < rules.length; j += 1) {
      const b = rules[j];
      if (!b?.prefix.startsWith(a.prefix)) break;
      if ((a.mask & b.mask) !== 0 && suffixesOverlap(a.suffix, b.suffix)) {
        throw new S3Error(
          'InvalidArgument',
          'Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are overlapping for the same event type.',
          400,
          { ArgumentName1: 'Event', ArgumentValue1: a.events.join(',') },
        );
      }
    }
  });
};

/** GetBucketNotificationConfiguration's answer. */
export const notificationXml = (notification: BucketNotification | undefined): string => {
  const body = {
    NotificationConfiguration: {
      '@_xmlns': 'http://s3.amazonaws.com/doc/2006-03-01/',
      CloudFunctionConfiguration: (notification?.lambda ?? []).map((t) => ({
        Id: t.id,
        CloudFunction: t.functionArn,
        Event: t.events,
        ...(t.prefix !== undefined || t.suffix !== undefined
          ? {
              Filter: {
                S3Key: {
                  FilterRule: [
                    ...(t.prefix !== undefined ? [{ Name: 'Prefix', Value: t.prefix }] : []),
                    ...(t.suffix !== undefined ? [{ Name: 'Suffix', Value: t.suffix }] : []),
                  ],
                },
              },
            }
          : {}),
      })),
    },
  };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLBuilder({ ignoreAttributes: false }).build(body) as string}`;
};

/**
 * The triggers of a bucket that an event fires. Filter values are matched against the key as
 * it appears in the record (encoded), as S3 does: AWS asks for special characters in filter
 * values to be written encoded.
 */
export const matchingTriggers = (notification: BucketNotification | undefined, record: S3EventRecord): LambdaTrigger[] =>
  (notification?.lambda ?? []).filter(
    (t) =>
      t.events.some((e) => s3EventMatches(e, record.eventName)) &&
      record.s3.object.key.startsWith(t.prefix ?? '') &&
      record.s3.object.key.endsWith(t.suffix ?? ''),
  );
