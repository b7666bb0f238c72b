import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { S3RecordDto } from '@tributary/contracts';
import { normalizeS3Record } from './s3-record.js';

// Copies of ../shared/aws-events, the AWS shapes we are compatible with.
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8'));

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
});
