import { createHash } from 'node:crypto';
import { decodeS3Key, encodeS3Key, type S3EventRecord, type S3RecordDto } from '@tributary/contracts';

export interface NormalizedRecord {
  /** Stable for one change of one object, whichever way and however often it was delivered. */
  id: string;
  bucket: string;
  /** The object key, decoded. */
  key: string;
  record: S3EventRecord;
}

/**
 * An S3 or MinIO notification record in exactly the shape AWS delivers to functions: no `s3:`
 * prefix on the event name, the key form-encoded the AWS way whatever the store sent.
 */
export const normalizeS3Record = (input: S3RecordDto, region: string): NormalizedRecord => {
  const eventName = input.eventName.replace(/^s3:/, '');
  const bucket = input.s3.bucket.name;
  const key = decodeS3Key(input.s3.object.key);
  const object = input.s3.object;
  // The sequencer alone is not enough (s3rver's is a millisecond clock): add eTag, size, version.
  const id = createHash('sha256')
    .update([bucket, key, object.versionId ?? '', object.sequencer ?? '', object.eTag ?? '', String(object.size ?? ''), eventName].join('\u0000'))
    .digest('hex');
  const record: S3EventRecord = {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: input.awsRegion || region,
    eventTime: input.eventTime ?? new Date().toISOString(),
    eventName,
    userIdentity: { principalId: input.userIdentity?.principalId ?? 'tributary' },
    requestParameters: { sourceIPAddress: input.requestParameters?.sourceIPAddress ?? '127.0.0.1' },
    responseElements: {
      'x-amz-request-id': input.responseElements?.['x-amz-request-id'] ?? id.slice(0, 16).toUpperCase(),
      'x-amz-id-2': input.responseElements?.['x-amz-id-2'] ?? id,
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: '',
      bucket: { name: bucket, ownerIdentity: { principalId: input.userIdentity?.principalId ?? 'tributary' }, arn: `arn:aws:s3:::${bucket}` },
      object: {
        key: encodeS3Key(key),
        ...(object.size !== undefined ? { size: object.size } : {}),
        ...(object.eTag ? { eTag: object.eTag.replace(/"/g, '') } : {}),
        ...(object.versionId ? { versionId: object.versionId } : {}),
        ...(object.sequencer ? { sequencer: object.sequencer } : {}),
      },
    },
  };
  return { id, bucket, key, record };
};
