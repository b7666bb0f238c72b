import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Stack } from '@tributary/stack';
import { isolatedEnvironment, removeIsolatedResources, sparePorts, uniqueName } from '@tributary/testing';
import { functionInput, startS3rver, type TestStore } from './harness.js';

describe('wiring the object store when triggers are saved', () => {
  const env = isolatedEnvironment();
  let store: TestStore;
  let stack: Stack;
  let ingest: S3Client;
  let lambda: LambdaClient;

  before(async () => {
    store = await startS3rver(['photos']);
    stack = new Stack({
      env: { ...env, LOG_LEVEL: 'error', S3_ENDPOINT: store.url, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' },
      ports: await sparePorts(['api', 's3-ingest']),
      output: 'pipe',
    });
    await stack.start(['api', 's3-ingest']);
    const credentials = { accessKeyId: 'x', secretAccessKey: 'y' };
    ingest = new S3Client({ endpoint: stack.url('s3-ingest'), region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
    lambda = new LambdaClient({ endpoint: stack.url('api'), region: 'us-east-1', credentials, maxAttempts: 1 });
  });

  after(async () => {
    ingest?.destroy();
    lambda?.destroy();
    await stack?.stop('SIGKILL');
    await store?.stop();
    await removeIsolatedResources(env);
  });

  it('reports clearly when the store refuses to notify Tributary, and saves nothing', async () => {
    const fn = uniqueName('wired');
    await lambda.send(
      new CreateFunctionCommand(functionInput(fn, 'exports.handler=async()=>1')),
    );
    // s3rver does not implement ?notification, as some stores do not: the answer must say so.
    const error = await ingest
      .send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: 'photos',
          NotificationConfiguration: { LambdaFunctionConfigurations: [{ LambdaFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${fn}`, Events: ['s3:ObjectCreated:*'] }] },
        }),
      )
      .then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof S3ServiceException);
    assert.equal(error.name, 'ServiceUnavailable');
    assert.match(error.message, /refused to send the notifications of bucket photos to Tributary/);
    assert.match(error.message, /NotImplemented/);
    const saved = await ingest.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'photos' }));
    assert.equal(saved.LambdaFunctionConfigurations, undefined);
  });
});
