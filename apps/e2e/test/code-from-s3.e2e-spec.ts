import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CreateFunctionCommand, InvalidParameterValueException, InvokeCommand, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { buildZip, uniqueName } from '@tributary/testing';
import { decode, functionInput, startE2eStack, startS3rver, type E2eStack, type TestStore } from './harness.js';

const BUCKET = 'artifacts';
const zip = (version: string) => buildZip({ 'index.js': `exports.handler = async () => ({ version: '${version}' });` });
// Built once: a zip holds its entries' times, so building it again later may give other bytes.
const V1 = zip('v1');
const V2 = zip('v2');

describe('deployment packages taken from S3 (Code.S3Bucket/S3Key), s3rver as the store', () => {
  let e2e: E2eStack;
  let store: TestStore;

  before(async () => {
    store = await startS3rver([BUCKET]);
    e2e = await startE2eStack({ S3_ENDPOINT: store.url, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' });
    await store.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'builds/v1.zip', Body: V1 }));
    await store.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'builds/v2.zip', Body: V2 }));
    await store.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'builds/readme.txt', Body: 'not a zip' }));
  });

  after(async () => {
    await e2e?.stop();
    await store?.stop();
  });

  it('creates and updates a function from objects in a bucket', async () => {
    const name = uniqueName('froms3');
    const created = await e2e.lambda.send(
      new CreateFunctionCommand(functionInput(name, { S3Bucket: BUCKET, S3Key: 'builds/v1.zip' })),
    );
    assert.equal(created.CodeSha256, createHash('sha256').update(V1).digest('base64'));
    assert.deepEqual(JSON.parse(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: name }))).Payload)), { version: 'v1' });

    await e2e.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, S3Bucket: BUCKET, S3Key: 'builds/v2.zip' }));
    assert.deepEqual(JSON.parse(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: name }))).Payload)), { version: 'v2' });
  });

  it('answers a missing object or one that is not a zip as AWS does', async () => {
    const create = (key: string) =>
      e2e.lambda.send(
        new CreateFunctionCommand(functionInput(uniqueName('bads3'), { S3Bucket: BUCKET, S3Key: key })),
      );
    const missing = await create('builds/nope.zip').then(() => undefined, (e: unknown) => e);
    assert.ok(missing instanceof InvalidParameterValueException);
    assert.match(missing.message, /Error occurred while GetObject\. S3 Error Code: NoSuchKey/);
    await assert.rejects(create('builds/readme.txt'), (e: unknown) => e instanceof InvalidParameterValueException && /Could not unzip/.test(e.message));
  });

  it('refuses a bucket name or key S3 cannot have with ValidationException, before asking the store', async () => {
    const name = uniqueName('badloc');
    const refused = (member: string, constraint: RegExp) => (e: unknown) =>
      (e as Error).name === 'ValidationException' && new RegExp(`at '${member}' failed to satisfy constraint: ${constraint.source}`).test((e as Error).message);
    for (const [bucket, constraint] of [
      ['a/b', /Member must satisfy regular expression pattern/],
      ['ab', /Member must have length greater than or equal to 3/],
      ['b'.repeat(64), /Member must have length less than or equal to 63/],
      ['photos.', /Member must satisfy regular expression pattern/],
    ] as const) {
      await assert.rejects(e2e.lambda.send(new CreateFunctionCommand(functionInput(name, { S3Bucket: bucket, S3Key: 'builds/v1.zip' }))), refused('code.s3Bucket', constraint), bucket);
    }
    await assert.rejects(e2e.lambda.send(new CreateFunctionCommand(functionInput(name, { S3Bucket: BUCKET, S3Key: 'k'.repeat(1025) }))), refused('code.s3Key', /Member must have length less than or equal to 1024/));
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(name, { ZipFile: V1 })));
    await assert.rejects(e2e.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, S3Bucket: 'a/b', S3Key: 'k' })), refused('s3Bucket', /Member must satisfy regular expression pattern/));
  });

  it('refuses a package given both inline and from S3, as AWS does', async () => {
    const name = uniqueName('boths3');
    const both = { ZipFile: V1, S3Bucket: BUCKET, S3Key: 'builds/v2.zip' };
    const refused = (e: unknown) => e instanceof InvalidParameterValueException && /do not provide other FunctionCode parameters when providing a ZipFile/.test(e.message);
    await assert.rejects(e2e.lambda.send(new CreateFunctionCommand(functionInput(name, both))), refused);
    await e2e.lambda.send(new CreateFunctionCommand(functionInput(name, { ZipFile: V1 })));
    await assert.rejects(e2e.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: name, ...both })), refused);
    assert.deepEqual(JSON.parse(decode((await e2e.lambda.send(new InvokeCommand({ FunctionName: name }))).Payload)), { version: 'v1' });
  });
});
