import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateFunctionCommand, DeleteFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { PutBucketNotificationConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { invokeEventSubject, s3EventSubject } from '@tributary/contracts';
import { consumerDeliveries, publishToStream, uniqueName, waitFor } from '@tributary/testing';
import { encode, functionInput, startE2eStack, type E2eStack } from './harness.js';

const ACK_WAIT_MS = 1000;

describe('events the dispatcher refuses', () => {
  let e2e: E2eStack;

  before(async () => {
    e2e = await startE2eStack({ EVENTS_ACK_WAIT_MS: String(ACK_WAIT_MS) });
  });

  after(async () => e2e.stop());

  it('are dropped after one delivery, not redelivered at every ack wait holding a slot of the consumer', async () => {
    const stream = e2e.env['EVENTS_STREAM'] ?? '';
    const durable = e2e.env['DISPATCHER_CONSUMER'] ?? '';
    const root = e2e.env['EVENTS_SUBJECT_ROOT'] ?? '';
    // An async invoke of a function deleted before the dispatcher took it, as a user makes one.
    const fn = uniqueName('gone');
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(fn, 'exports.handler = async () => 1;')));
    await e2e.stack.stopService('dispatcher');
    assert.equal((await e2e.lambda.send(new InvokeCommand({ FunctionName: fn, InvocationType: 'Event', Payload: encode({}) }))).StatusCode, 202);
    await e2e.lambda.send(new DeleteFunctionCommand({ FunctionName: fn }));
    // And what anyone may publish on the events subjects: not JSON, and no CloudEvent.
    await publishToStream(invokeEventSubject(fn, root), 'not json');
    await publishToStream(invokeEventSubject(fn, root), JSON.stringify({ specversion: '1.0' }));
    // Data nested too deeply to write out again (the API refuses it; anyone may publish it). It
    // was redelivered for ever, and a thousand of them stopped the consumer for every function.
    const kept = uniqueName('kept');
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(kept, 'exports.handler = async () => 1;')));
    // The deep object event's bucket runs `kept`: its record is written out into that trigger's job.
    const store = new S3Client({ endpoint: e2e.stack.url('s3-ingest'), region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
    await store.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: 'deep-bucket',
        NotificationConfiguration: { LambdaFunctionConfigurations: [{ Id: 'all', LambdaFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${kept}`, Events: ['s3:ObjectCreated:*'] }] },
      }),
    );
    store.destroy();
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const time = new Date().toISOString();
    await publishToStream(
      invokeEventSubject(kept, root),
      `{"specversion":"1.0","id":"deep-invoke","source":"test","type":"invoke","time":"${time}","targetfunction":"${kept}","qualifier":"$LATEST","invocationtype":"Event","logtype":"None","functionrevision":1,"data":${deep}}`,
    );
    await publishToStream(
      s3EventSubject(root),
      `{"specversion":"1.0","id":"deep-s3","source":"test","type":"s3.ObjectCreated:Put","time":"${time}","data":{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"deep-bucket"},"object":{"key":"k","deep":${deep}}}}}`,
    );
    await e2e.stack.startService('dispatcher');

    await waitFor('the dispatcher to settle all five', async () => (await consumerDeliveries(stream, durable)).ackPending === 0, { timeoutMs: 10_000, intervalMs: 100 });
    // Three ack waits later, none of them has come back.
    await new Promise((resolve) => setTimeout(resolve, 3 * ACK_WAIT_MS + 500));
    assert.deepEqual(await consumerDeliveries(stream, durable), { ackPending: 0, redelivered: 0, deliveriesAgain: 0 });
  });
});
