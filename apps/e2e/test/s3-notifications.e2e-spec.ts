import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AddPermissionCommand, CreateFunctionCommand, GetPolicyCommand, RemovePermissionCommand, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import {
  DeleteObjectCommand,
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { encodeS3Key, type S3Event } from '@tributary/contracts';
import { CallbackListener, streamMessageCount, uniqueName, waitFor } from '@tributary/testing';
import { functionInput, startE2eStack, startS3rver, type E2eStack, type TestStore } from './harness.js';

const TOKEN = 'webhook-secret-token';
const BUCKET = 'photos';

// An unmodified AWS-style handler: it reads the object its event names through the AWS SDK.
const HANDLER = `
const http = require('node:http');
const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');
const s3 = new S3Client({ forcePathStyle: true });
exports.handler = async (event, context) => {
  const record = event.Records[0];
  const key = decodeURIComponent(record.s3.object.key.replace(/\\+/g, ' '));
  let body = null;
  if (record.eventName.startsWith('ObjectCreated')) {
    const object = await s3.send(new GetObjectCommand({ Bucket: record.s3.bucket.name, Key: key }));
    body = await object.Body.transformToString();
  }
  await new Promise((resolve, reject) => {
    const req = http.request(process.env.CALLBACK, { method: 'POST' }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end(JSON.stringify({ event, body, fn: context.functionName }));
  });
};`;

interface Seen {
  event: S3Event;
  body: string | null;
  fn: string;
}

describe('bucket notifications run functions (s3rver as the store)', () => {
  let e2e: E2eStack;
  let s3: TestStore;
  let store: S3Client;
  let ingest: S3Client;
  let listener: CallbackListener;
  let webhook: string;
  const forwarded: Array<Promise<Response>> = [];
  const created = uniqueName('created');
  const removed = uniqueName('removed');

  before(async () => {
    listener = await CallbackListener.start();
    s3 = await startS3rver([BUCKET]);
    store = s3.client;
    e2e = await startE2eStack({
      S3_INGEST_TOKEN: TOKEN,
      AWS_ENDPOINT_URL_S3: s3.url,
      FUNCTION_ACCESS_KEY_ID: 'S3RVER',
      FUNCTION_SECRET_ACCESS_KEY: 'S3RVER',
    });
    webhook = `${e2e.stack.url('s3-ingest')}/events`;
    // s3rver emits its notifications in-process; forward them as a store's webhook target would,
    // with the key encoded as S3 encodes it.
    s3.server.on('event', (event: S3Event) => {
      for (const record of event.Records) record.s3.object.key = encodeS3Key(record.s3.object.key);
      forwarded.push(fetch(webhook, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(event) }));
    });
    const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
    ingest = new S3Client({ endpoint: e2e.stack.url('s3-ingest'), region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
    for (const [name, env] of [[created, 'created'], [removed, 'removed']] as const) {
      await e2e.lambda.send(
        new CreateFunctionCommand(functionInput(name, HANDLER, { Timeout: 10, Environment: { Variables: { CALLBACK: `${listener.url}/${env}` } } })),
      );
    }
  });

  after(async () => {
    ingest?.destroy();
    await listener?.close();
    await e2e?.stop();
    await s3?.stop();
  });

  it('configures triggers through @aws-sdk/client-s3 and reads them back', async () => {
    await ingest.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: BUCKET,
        NotificationConfiguration: {
          LambdaFunctionConfigurations: [
            {
              Id: 'jpgs-in',
              LambdaFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${created}`,
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'incoming/' }, { Name: 'suffix', Value: '.jpg' }] } },
            },
            { Id: 'removals', LambdaFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${removed}`, Events: ['s3:ObjectRemoved:*'] },
          ],
        },
      }),
    );
    const read = await ingest.send(new GetBucketNotificationConfigurationCommand({ Bucket: BUCKET }));
    assert.deepEqual(read.LambdaFunctionConfigurations?.map((c) => [c.Id, c.Events, c.Filter?.Key?.FilterRules?.map((r) => r.Value)]), [
      ['jpgs-in', ['s3:ObjectCreated:*'], ['incoming/', '.jpg']],
      ['removals', ['s3:ObjectRemoved:*'], undefined],
    ]);
    // The Lambda API answers which buckets invoke a function the AWS way.
    const policy = JSON.parse((await e2e.lambda.send(new GetPolicyCommand({ FunctionName: created }))).Policy ?? '{}');
    assert.deepEqual(
      policy.Statement.map((s: { Condition: { ArnLike: Record<string, string> } }) => s.Condition.ArnLike['AWS:SourceArn']),
      [`arn:aws:s3:::${BUCKET}`],
    );
    // A permission added for the bucket (the usual recipe before the notification) stands for it: one statement, not two.
    await e2e.lambda.send(
      new AddPermissionCommand({ FunctionName: created, StatementId: 'from-bucket', Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com', SourceArn: `arn:aws:s3:::${BUCKET}` }),
    );
    const granted = JSON.parse((await e2e.lambda.send(new GetPolicyCommand({ FunctionName: created }))).Policy ?? '{}') as { Statement: Array<{ Sid: string }> };
    assert.deepEqual(granted.Statement.map((s) => s.Sid), ['from-bucket']);
    await e2e.lambda.send(new RemovePermissionCommand({ FunctionName: created, StatementId: 'from-bucket' }));
  });

  it('answers GetPolicy for a function no bucket invokes with ResourceNotFound', async () => {
    const lonely = uniqueName('lonely');
    await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(lonely, HANDLER)),
    );
    await assert.rejects(e2e.lambda.send(new GetPolicyCommand({ FunctionName: lonely })), ResourceNotFoundException);
  });

  it('refuses a trigger for a function that does not exist, with S3 error codes', async () => {
    const error = await ingest
      .send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: 'other',
          NotificationConfiguration: { LambdaFunctionConfigurations: [{ LambdaFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:nope', Events: ['s3:ObjectCreated:*'] }] },
        }),
      )
      .then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof S3ServiceException);
    assert.equal(error.name, 'InvalidArgument');
    // An existing function, named by an ARN of another region or account, is not this store's to notify.
    const foreign = (process.env['AWS_REGION'] ?? 'us-east-1') === 'eu-west-1' ? 'eu-central-1' : 'eu-west-1';
    const [region, account] = [process.env['AWS_REGION'] ?? 'us-east-1', process.env['TRIBUTARY_ACCOUNT_ID'] ?? '000000000000'];
    for (const [arn, message] of [
      [`arn:aws:lambda:${foreign}:${account}:function:${created}`, /region is not valid for the bucket location constraint/],
      [`arn:aws:lambda:${region}:111111111111:function:${created}`, /Unable to validate the following destination configurations/],
      // No versions or aliases exist yet: a qualified ARN names nothing, rather than $LATEST.
      [`arn:aws:lambda:${region}:${account}:function:${created}:prod`, /Unable to validate the following destination configurations/],
      [`arn:aws:lambda:${region}:${account}:function:${created}:7`, /Unable to validate the following destination configurations/],
    ] as const) {
      const refused = await ingest
        .send(new PutBucketNotificationConfigurationCommand({ Bucket: 'other', NotificationConfiguration: { LambdaFunctionConfigurations: [{ LambdaFunctionArn: arn, Events: ['s3:ObjectCreated:*'] }] } }))
        .then(() => undefined, (e: unknown) => e);
      assert.ok(refused instanceof S3ServiceException, `${arn} was accepted`);
      assert.equal(refused.name, 'InvalidArgument');
      assert.match(refused.message, message);
    }
  });

  it('refuses a bucket name it cannot hold and XML it cannot read with S3 error codes, not a 500', async () => {
    const base = e2e.stack.url('s3-ingest');
    const code = async (answer: Response): Promise<string> => `${answer.status} ${/<Code>([^<]*)<\/Code>/.exec(await answer.text())?.[1] ?? ''}`;
    const config = '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></NotificationConfiguration>';
    for (const bucket of ['a%20b', '%2A', '%3E', 'a..b', '%E2%98%83']) {
      assert.equal(await code(await fetch(`${base}/${bucket}?notification`, { method: 'PUT', body: config })), '400 InvalidBucketName', bucket);
      assert.equal(await code(await fetch(`${base}/${bucket}?notification`)), '400 InvalidBucketName', bucket);
    }
    const odd = '<NotificationConfiguration><CloudFunctionConfiguration><Event><a>1</a></Event></CloudFunctionConfiguration></NotificationConfiguration>';
    assert.equal(await code(await fetch(`${base}/other?notification`, { method: 'PUT', body: odd })), '400 MalformedXML');
    // What the router or the body reader refuses is answered in S3's words too.
    assert.equal(await code(await fetch(`${base}/b%FF?notification`)), '400 InvalidURI');
    assert.equal(await code(await fetch(`${base}/other/some/key`)), '501 NotImplemented');
    assert.equal(await code(await fetch(`${base}/other?notification`, { method: 'PUT', body: Buffer.alloc(11 * 1024 * 1024, 32) })), '400 MaxMessageLengthExceeded');
    const bigWebhook = await fetch(`${base}/events`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: Buffer.alloc(11 * 1024 * 1024, 32) });
    assert.deepEqual([bigWebhook.status, ((await bigWebhook.json()) as { error: string }).error], [400, 'MaxMessageLengthExceeded']);
    assert.equal((await fetch(`${base}/health`)).status, 200);
  });

  it('refuses a configuration larger than a bucket can keep with EntityTooLarge, before looking at its rules', async () => {
    const arn = `arn:aws:lambda:${process.env['AWS_REGION'] ?? 'us-east-1'}:${process.env['TRIBUTARY_ACCOUNT_ID'] ?? '000000000000'}:function:${created}`;
    const rules = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ Id: `tenant-${i}`, LambdaFunctionArn: arn, Events: ['s3:ObjectCreated:*' as const], Filter: { Key: { FilterRules: [{ Name: 'prefix' as const, Value: `tenant-${i}/` }] } } }));
    const refused = await ingest
      .send(new PutBucketNotificationConfigurationCommand({ Bucket: 'other', NotificationConfiguration: { LambdaFunctionConfigurations: rules(10_000) } }))
      .then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof S3ServiceException, 'a 10,000-rule configuration was accepted');
    assert.equal(refused.name, 'EntityTooLarge');
    assert.equal(refused.$metadata.httpStatusCode, 400);
    // Many rules that fit are kept, and read back whole.
    await ingest.send(new PutBucketNotificationConfigurationCommand({ Bucket: 'other', NotificationConfiguration: { LambdaFunctionConfigurations: rules(2_000) } }));
    const kept = await ingest.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'other' }));
    assert.equal(kept.LambdaFunctionConfigurations?.length, 2_000);
    await ingest.send(new PutBucketNotificationConfigurationCommand({ Bucket: 'other', NotificationConfiguration: {} }));
  });

  it('runs the function with an S3Event for a matching PutObject; the function reads the object back', async () => {
    await store.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'incoming/summer trip/IMG 1.jpg', Body: 'jpeg bytes' }));
    await store.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'incoming/notes.txt', Body: 'not a photo' }));
    await store.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'outgoing/b.jpg', Body: 'wrong prefix' }));
    const [arrived] = await listener.waitForCount(1, 30_000);
    const seen = JSON.parse(arrived?.body ?? '{}') as Seen;
    assert.equal(seen.fn, created);
    assert.equal(seen.body, 'jpeg bytes');
    const record = seen.event.Records[0];
    assert.ok(record);
    assert.equal(record.eventSource, 'aws:s3');
    assert.equal(record.eventName, 'ObjectCreated:Put');
    assert.equal(record.s3.configurationId, 'jpgs-in');
    assert.equal(record.s3.bucket.name, BUCKET);
    assert.equal(record.s3.bucket.arn, `arn:aws:s3:::${BUCKET}`);
    assert.equal(record.s3.object.key, 'incoming/summer+trip/IMG+1.jpg');
    assert.equal(record.s3.object.size, 'jpeg bytes'.length);
    await Promise.all(forwarded);
    // Objects outside the filters ran nothing: every notification was taken, one function ran.
    await waitFor('the three notifications to be in the stream', async () => (await streamMessageCount(e2e.env['EVENTS_STREAM'] ?? '')) >= 3);
    assert.equal(listener.received.filter((r) => r.path === '/created').length, 1);
  });

  it('runs an ObjectRemoved trigger for DeleteObject', async () => {
    const before = listener.received.length;
    await store.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'outgoing/b.jpg' }));
    await listener.waitForCount(before + 1, 30_000);
    const seen = JSON.parse(listener.received.at(-1)?.body ?? '{}') as Seen;
    assert.equal(seen.fn, removed);
    assert.equal(seen.event.Records[0]?.eventName, 'ObjectRemoved:Delete');
    assert.equal(seen.event.Records[0]?.s3.object.key, 'outgoing/b.jpg');
  });

  it('runs the function once for a notification delivered twice', async () => {
    const notification = {
      Records: [{
        eventName: 's3:ObjectCreated:Put', eventTime: new Date().toISOString(),
        s3: { bucket: { name: BUCKET }, object: { key: 'incoming%2Ftwice.jpg', size: 3, eTag: 'abc', sequencer: '0A1B' } },
      }],
    };
    await store.send(new PutObjectCommand({ Bucket: 'photos', Key: 'incoming/twice.jpg', Body: 'two' }));
    await listener.waitForCount(listener.received.length + 1, 30_000); // the store's own notification
    const before = listener.received.length;
    for (let i = 0; i < 2; i += 1) {
      const answer = await fetch(webhook, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(notification) });
      assert.equal(answer.status, 200);
    }
    await listener.waitForCount(before + 1, 30_000);
    const messages = await streamMessageCount(e2e.env['EVENTS_STREAM'] ?? '');
    const third = await fetch(webhook, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(notification) });
    assert.equal(third.status, 200);
    assert.equal(await streamMessageCount(e2e.env['EVENTS_STREAM'] ?? ''), messages, 'a redelivered notification is de-duplicated by the stream');
    assert.equal(listener.received.length, before + 1);
  });

  it("runs no ObjectCreated function for MinIO's tag, retention and legal-hold changes", async () => {
    const messages = await streamMessageCount(e2e.env['EVENTS_STREAM'] ?? '');
    for (const eventName of ['s3:ObjectCreated:PutTagging', 's3:ObjectCreated:DeleteTagging', 's3:ObjectCreated:PutRetention', 's3:ObjectCreated:PutLegalHold']) {
      const notification = { Records: [{ eventName, eventTime: new Date().toISOString(), s3: { bucket: { name: BUCKET }, object: { key: 'incoming%2Ftagged.jpg', size: 3, eTag: eventName } } }] };
      const answer = await fetch(webhook, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(notification) });
      assert.equal(answer.status, 200);
    }
    // The tag changes are ObjectTagging events (for ObjectTagging triggers); the others none at all.
    assert.equal(await streamMessageCount(e2e.env['EVENTS_STREAM'] ?? ''), messages + 2);
    const before = listener.received.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(listener.received.length, before, 'an ObjectCreated trigger ran for a tag change');
  });

  it('takes the same notifications from the store\'s NATS target (JetStream)', async () => {
    const before = listener.received.length;
    const { connect } = await import('@nats-io/transport-node');
    const { jetstream } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: (e2e.env['NATS_URL'] ?? '').replace('nats://', '') });
    try {
      // MinIO's format: the key query-escaped, the event name with its s3: prefix.
      const minio = {
        EventName: 's3:ObjectCreated:Put',
        Key: 'photos/incoming/from nats.jpg',
        Records: [{
          eventVersion: '2.0', eventSource: 'minio:s3', awsRegion: '', eventTime: new Date().toISOString(), eventName: 's3:ObjectCreated:Put',
          s3: { s3SchemaVersion: '1.0', configurationId: 'Config', bucket: { name: BUCKET, arn: `arn:aws:s3:::${BUCKET}` }, object: { key: 'incoming%2Ffrom+nats.jpg', size: 5, eTag: 'n1', sequencer: 'AB' } },
        }],
      };
      await store.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'incoming/from nats.jpg', Body: 'hello' }));
      await listener.waitForCount(before + 1, 30_000); // the webhook's delivery of the same put
      await jetstream(nc).publish(e2e.env['S3_NOTIFY_SUBJECT'] ?? '', JSON.stringify(minio));
      await listener.waitForCount(before + 2, 30_000);
      const seen = JSON.parse(listener.received.at(-1)?.body ?? '{}') as Seen;
      assert.equal(seen.event.Records[0]?.s3.object.key, 'incoming/from+nats.jpg');
      assert.equal(seen.event.Records[0]?.eventName, 'ObjectCreated:Put');
      assert.equal(seen.body, 'hello');
    } finally {
      await nc.close();
    }
  });

  it('answers bad input with 4xx, publishes nothing, and keeps serving', async () => {
    const messages = await streamMessageCount(e2e.env['EVENTS_STREAM'] ?? '');
    const post = (body: string, auth: string | null = `Bearer ${TOKEN}`, headers: Record<string, string> = {}) =>
      fetch(webhook, { method: 'POST', headers: { ...headers, ...(auth ? { authorization: auth } : {}) }, body });
    const cases: Array<[string, Promise<Response>, number, RegExp]> = [
      ['malformed JSON', post('{"Records": ['), 400, /not JSON/],
      ['no records', post('{"Records": []}'), 400, /Records is empty/],
      ['not a notification', post('{"hello": 1}'), 400, /^Records is required/],
      ['Records not an array', post('{"Records": {"eventName": "s3:ObjectCreated:Put"}}'), 400, /Records must be an array/],
      // Fastify refuses such a header before any route runs; it was answered 500 InternalError.
      ['an empty Content-Type', post(JSON.stringify({ Records: [] }), `Bearer ${TOKEN}`, { 'content-type': '' }), 400, /Content-Type '' is not a media type/],
      ['record without bucket', post(JSON.stringify({ Records: [{ eventName: 's3:ObjectCreated:Put', s3: { object: { key: 'k' } } }] })), 400, /s3\.bucket/],
      ['one record over the bus message limit beside a good one', post(JSON.stringify({ Records: ['ok', 'x'.repeat(1_100_000)].map((key, i) => ({
        eventVersion: '2.0', eventSource: 'minio:s3', awsRegion: '', eventTime: new Date().toISOString(), eventName: 's3:ObjectCreated:Put',
        s3: { s3SchemaVersion: '1.0', configurationId: 'Config', bucket: { name: BUCKET, arn: `arn:aws:s3:::${BUCKET}` }, object: { key, size: 1, eTag: `big${i}`, sequencer: 'AB' } },
      })) })), 400, /Records\[1\] is over the \d+-byte limit/],
      ['eventTime that is not a date', post(JSON.stringify({ Records: [{ eventName: 's3:ObjectCreated:Put', eventTime: 'yesterday', s3: { bucket: { name: BUCKET }, object: { key: 'k' } } }] })), 400, /eventTime must be an ISO 8601/],
      // A lone surrogate: no store sends one, and it was a 500 (the store retries those).
      ['key that is not Unicode', post('{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a\\ud800b"}}}]}'), 400, /object key must be Unicode text/],
      ['negative size', post(JSON.stringify({ Records: [{ eventName: 's3:ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key: 'k', size: -1 } } }] })), 400, /size/],
      ['wrong token', post('{"Records": []}', 'Bearer wrong'), 401, /token is wrong/],
      ['missing token', post('{"Records": []}', null), 401, /token is required/],
    ];
    for (const [what, response, status, message] of cases) {
      const answer = await response;
      assert.equal(answer.status, status, what);
      assert.match(((await answer.json()) as { message: string }).message, message, what);
    }
    const test = await post(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Time: new Date().toISOString(), Bucket: BUCKET }));
    assert.equal(test.status, 200);
    for (let i = 0; i < 200; i += 1) assert.equal((await post(`{"Records": [${i}`)).status, 400);
    assert.equal(await streamMessageCount(e2e.env['EVENTS_STREAM'] ?? ''), messages);
    assert.equal((await fetch(`${e2e.stack.url('s3-ingest')}/health`)).status, 200);
  });
});
