import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3_EVENT_TYPES, s3EventMatches, type S3EventRecord } from '@tributary/contracts';
import { S3Error, matchingTriggers, notificationXml, parseNotificationXml } from './notification-configuration.js';

const CLI_XML = `<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <CloudFunctionConfiguration>
    <Id>jpgs</Id>
    <CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:resize</CloudFunction>
    <Event>s3:ObjectCreated:*</Event>
    <Filter><S3Key>
      <FilterRule><Name>prefix</Name><Value>incoming/</Value></FilterRule>
      <FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule>
    </S3Key></Filter>
  </CloudFunctionConfiguration>
</NotificationConfiguration>`;

const record = (eventName: string, key: string) => ({ eventName, s3: { object: { key } } }) as unknown as S3EventRecord;

describe('bucket notification configuration', () => {
  it('parses what the AWS CLI sends and writes it back', () => {
    const config = parseNotificationXml('photos', CLI_XML);
    assert.deepEqual(config.lambda, [
      { id: 'jpgs', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:resize', functionName: 'resize', events: ['s3:ObjectCreated:*'], prefix: 'incoming/', suffix: '.jpg' },
    ]);
    const again = parseNotificationXml('photos', notificationXml(config));
    assert.deepEqual(again.lambda, config.lambda);
  });

  it('accepts an empty configuration (removes every trigger)', () => {
    assert.deepEqual(parseNotificationXml('b', '<NotificationConfiguration/>').lambda, []);
  });

  it('refuses malformed XML, unknown events and overlapping rules with S3 error codes', () => {
    const code = (xml: string) => {
      try {
        parseNotificationXml('b', xml);
        return 'accepted';
      } catch (error) {
        return error instanceof S3Error ? error.code : String(error);
      }
    };
    assert.equal(code('<NotificationConfiguration><CloudFunctionConfiguration>'), 'MalformedXML');
    assert.equal(code('not xml at all'), 'MalformedXML');
    assert.equal(code(CLI_XML.replace('s3:ObjectCreated:*', 's3:ObjectExploded:*')), 'InvalidArgument');
    const twice = CLI_XML.replace('</NotificationConfiguration>', '') + CLI_XML.replace(/^<NotificationConfiguration[^>]*>/, '').replace('jpgs', 'other').replace('.jpg', 'g');
    assert.equal(code(twice), 'InvalidArgument');
    const disjoint = CLI_XML.replace('</NotificationConfiguration>', '') + CLI_XML.replace(/^<NotificationConfiguration[^>]*>/, '').replace('jpgs', 'other').replace('.jpg', '.png');
    assert.equal(code(disjoint), 'accepted');
  });

  it('fires a trigger only for matching event types and keys', () => {
    const config = parseNotificationXml('photos', CLI_XML);
    assert.equal(matchingTriggers(config, record('ObjectCreated:Put', 'incoming/a.jpg')).length, 1);
    assert.equal(matchingTriggers(config, record('ObjectCreated:Copy', 'incoming/a.jpg')).length, 1);
    assert.equal(matchingTriggers(config, record('ObjectRemoved:Delete', 'incoming/a.jpg')).length, 0);
    assert.equal(matchingTriggers(config, record('ObjectCreated:Put', 'outgoing/a.jpg')).length, 0);
    assert.equal(matchingTriggers(config, record('ObjectCreated:Put', 'incoming/a.png')).length, 0);
  });

  describe('overlapping rules', () => {
    interface Rule { events: string[]; prefix: string; suffix: string }
    const xmlOf = (rules: Rule[]) =>
      `<NotificationConfiguration>${rules
        .map(
          (r, i) =>
            `<CloudFunctionConfiguration><Id>r${i}</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:f</CloudFunction>${r.events
              .map((e) => `<Event>${e}</Event>`)
              .join('')}<Filter><S3Key><FilterRule><Name>prefix</Name><Value>${r.prefix}</Value></FilterRule><FilterRule><Name>suffix</Name><Value>${r.suffix}</Value></FilterRule></S3Key></Filter></CloudFunctionConfiguration>`,
        )
        .join('')}</NotificationConfiguration>`;
    const accepted = (rules: Rule[]): boolean => {
      try {
        parseNotificationXml('b', xmlOf(rules));
        return true;
      } catch (error) {
        if (error instanceof S3Error && /ambiguously/.test(error.message)) return false;
        throw error;
      }
    };
    // S3's rule stated directly, pair by pair: some object key and event type match both.
    const comparable = (x: string, y: string, how: 'startsWith' | 'endsWith') => x[how](y) || y[how](x);
    const clash = (a: Rule, b: Rule) =>
      S3_EVENT_TYPES.some((t) => !t.endsWith('*') && a.events.some((e) => s3EventMatches(e, t)) && b.events.some((e) => s3EventMatches(e, t))) &&
      comparable(a.prefix, b.prefix, 'startsWith') &&
      comparable(a.suffix, b.suffix, 'endsWith');
    const expected = (rules: Rule[]) => rules.every((a, i) => rules.slice(i + 1).every((b) => !clash(a, b)));

    it('refuses exactly the configurations with two rules that can match one event (against the pairwise rule, 3,000 random ones)', () => {
      let seed = 7;
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      const word = () => ['', 'a', 'b', 'ab', 'ba', 'a/', 'aa', 'b/a'][random(8)] ?? '';
      const eventPool = ['s3:ObjectCreated:*', 's3:ObjectCreated:Put', 's3:ObjectCreated:Copy', 's3:ObjectRemoved:*', 's3:ObjectRemoved:Delete', 's3:ObjectTagging:Put'];
      let refused = 0;
      for (let round = 0; round < 3000; round += 1) {
        const rules = Array.from({ length: 2 + random(4) }, () => ({
          events: [...new Set(Array.from({ length: 1 + random(2) }, () => eventPool[random(eventPool.length)] ?? ''))],
          prefix: word(),
          suffix: word(),
        }));
        const want = expected(rules);
        assert.equal(accepted(rules), want, JSON.stringify(rules));
        if (!want) refused += 1;
      }
      // Both answers were exercised.
      assert.ok(refused > 300 && refused < 2700, `refused ${refused} of 3000`);
    });

    it('refuses two rules for the same wildcard of every family, Replication:* included', () => {
      for (const wildcard of S3_EVENT_TYPES.filter((t) => t.endsWith('*'))) {
        assert.equal(accepted([{ events: [`s3:${wildcard}`], prefix: '', suffix: '' }, { events: [`s3:${wildcard}`], prefix: '', suffix: '' }]), false, wildcard);
      }
    });

    it('accepts 5,000 rules with distinct prefixes, and finds the one overlap added among them', () => {
      const rules = Array.from({ length: 5000 }, (_, i) => ({ events: ['s3:ObjectCreated:*'], prefix: `tenant-${i}/`, suffix: '' }));
      assert.equal(accepted(rules), true);
      rules.push({ events: ['s3:ObjectCreated:Put'], prefix: 'tenant-1', suffix: '.jpg' });
      assert.equal(accepted(rules), false);
    });
  });

  it('refuses a configuration larger than the store keeps, with EntityTooLarge', () => {
    const many = CLI_XML.replace(/<CloudFunctionConfiguration>[\s\S]*<\/CloudFunctionConfiguration>/, (one) =>
      Array.from({ length: 50 }, (_, i) => one.replace('jpgs', `jpgs-${i}`).replace('incoming/', `incoming-${i}/`)).join(''),
    );
    const stored = Buffer.byteLength(JSON.stringify(parseNotificationXml('b', many)));
    assert.equal(parseNotificationXml('b', many, stored).lambda.length, 50);
    assert.throws(
      () => parseNotificationXml('b', many, stored - 1),
      (error: unknown) => error instanceof S3Error && error.code === 'EntityTooLarge' && error.extra['MaxSizeAllowed'] === String(stored - 1),
    );
  });
});
