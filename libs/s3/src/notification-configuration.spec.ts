import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { S3EventRecord } from '@tributary/contracts';
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
});
