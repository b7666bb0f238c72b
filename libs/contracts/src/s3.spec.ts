import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeS3Key, encodeS3Key, s3EventMatches } from './s3.js';

describe('S3 keys and event names', () => {
  it('encodes a key as AWS does in event records', () => {
    assert.equal(encodeS3Key('incoming/summer trip/IMGé 1.jpg'), 'incoming/summer+trip/IMG%C3%A9+1.jpg');
    assert.equal(encodeS3Key("a+b(1)!'~*.txt"), 'a%2Bb%281%29%21%27%7E*.txt');
  });

  it('decodes both AWS form encoding and MinIO query escaping', () => {
    assert.equal(decodeS3Key('incoming/summer+trip/IMG%C3%A9+1.jpg'), 'incoming/summer trip/IMGé 1.jpg');
    assert.equal(decodeS3Key('incoming%2FIMG_0001.jpg'), 'incoming/IMG_0001.jpg');
    assert.equal(decodeS3Key('a%2Bb'), 'a+b');
  });

  it('matches event names against patterns with wildcards', () => {
    assert.ok(s3EventMatches('s3:ObjectCreated:*', 'ObjectCreated:Put'));
    assert.ok(s3EventMatches('s3:ObjectRemoved:Delete', 'ObjectRemoved:Delete'));
    assert.ok(!s3EventMatches('s3:ObjectCreated:*', 'ObjectRemoved:Delete'));
    assert.ok(!s3EventMatches('s3:ObjectCreated:Copy', 'ObjectCreated:Put'));
  });
});
