import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { S3RecordDto } from '@tributary/contracts';
import { normalizeS3Record as normalizeOrDrop } from './s3-record.js';

// Copies of ../shared/aws-events, the AWS shapes we are compatible with.
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8'));

const normalizeS3Record = (input: S3RecordDto, region: string) => {
  const normalized = normalizeOrDrop(input, region);
  assert.ok(normalized, 'the record was dropped');
  return normalized;
};

describe('normalizeS3Record', () => {
  it('turns a MinIO record into the AWS shape', () => {
    const minio = fixture('minio-webhook.json').Records[0] as S3RecordDto;
    const { record, bucket, key } = normalizeS3Record(minio, 'us-east-1');
    const aws = fixture('s3-object-created.json').Records[0];
    assert.deepEqual(Object.keys(record).sort(), Object.keys(aws).sort());
    assert.deepEqual(Object.keys(record.s3).sort(), Object.keys(aws.s3).sort());
    assert.equal(record.eventName, 'ObjectCreated:Put');
    assert.equal(record.eventSource, 'aws:s3');
    assert.equal(record.awsRegion, 'us-east-1');
    assert.equal(bucket, 'photos');
    assert.equal(key, 'incoming/IMG_0001.jpg');
    assert.equal(record.s3.object.key, 'incoming/IMG_0001.jpg');
  });

  it('keeps an AWS key as AWS encoded it, and gives the same change the same id', () => {
    const aws = fixture('s3-object-created.json').Records[0] as S3RecordDto;
    const first = normalizeS3Record(aws, 'eu-west-1');
    assert.equal(first.record.s3.object.key, 'incoming/summer+trip/IMG%C3%A9+1.jpg');
    assert.equal(first.key, 'incoming/summer trip/IMGé 1.jpg');
    assert.equal(normalizeS3Record(structuredClone(aws), 'eu-west-1').id, first.id);
    const other = structuredClone(aws);
    other.s3.object.eTag = 'different';
    assert.notEqual(normalizeS3Record(other, 'eu-west-1').id, first.id);
  });

  it("names MinIO's tag changes as S3 does, drops the changes S3 notifies no function of, and writes S3's time and owner", () => {
    const minio = fixture('minio-webhook.json').Records[0] as S3RecordDto;
    const as = (eventName: string) => normalizeOrDrop({ ...structuredClone(minio), eventName }, 'us-east-1');
    assert.equal(as('s3:ObjectCreated:PutTagging')?.record.eventName, 'ObjectTagging:Put');
    assert.equal(as('s3:ObjectCreated:DeleteTagging')?.record.eventName, 'ObjectTagging:Delete');
    assert.equal(as('s3:ObjectCreated:PutRetention'), undefined);
    assert.equal(as('s3:ObjectCreated:PutLegalHold'), undefined);
    assert.equal(as('s3:ObjectCreated:Put')?.record.eventName, 'ObjectCreated:Put');
    // Names of Object's own members are names like any other, not found through the prototype.
    assert.equal(as('constructor')?.record.eventName, 'constructor');
    assert.equal(as('s3:toString')?.record.eventName, 'toString');

    const aws = fixture('s3-object-created.json').Records[0] as S3RecordDto;
    const quoted = structuredClone(aws);
    quoted.s3.object.eTag = `"${aws.s3.object.eTag ?? ''}"`;
    assert.equal(normalizeS3Record(quoted, 'us-east-1').id, normalizeS3Record(aws, 'us-east-1').id);
    const local = structuredClone(aws);
    local.eventTime = '2026-11-24T18:41:54+01:00';
    assert.equal(normalizeS3Record(local, 'us-east-1').record.eventTime, '2026-11-24T17:41:54.000Z');
    const fromAws = fixture('s3-object-created.json').Records[0];
    assert.equal(normalizeS3Record(aws, 'us-east-1').record.s3.bucket.ownerIdentity.principalId, fromAws.s3.bucket.ownerIdentity.principalId);
  });
});
