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
 * MinIO files changes under ObjectCreated that S3 notifies as other events, or as none: a tag
 * change is S3's ObjectTagging:Put or :Delete, and a retention or legal-hold change has no S3
 * event. Taken as MinIO names them, they ran ObjectCreated:* functions (one that tagged the object
 * it was run for ran itself again, for ever) and never ObjectTagging ones.
 */
const MINIO_EVENT_NAMES: Readonly<Record<string, string | null>> = {
  'ObjectCreated:PutTagging': 'ObjectTagging:Put',
  'ObjectCreated:DeleteTagging': 'ObjectTagging:Delete',
  'ObjectCreated:PutRetention': null,
  'ObjectCreated:PutLegalHold': null,
};

/** An event time as S3 writes it, in UTC with milliseconds (`1970-01-01T00:00:00.000Z`). */
const s3Time = (time: string | undefined): string => {
  const parsed = time === undefined ? new Date() : new Date(time);
  return Number.isNaN(parsed.getTime()) ? new Date().toISOString() : parsed.toISOString();
};

/**
 * An S3 or MinIO notification record in exactly the shape AWS delivers to functions: no `s3:`
 * prefix on the event name, the key form-encoded the AWS way whatever the store sent, the time in
 * UTC. Undefined for a change S3 would notify no function of.
 */
export const normalizeS3Record = (input: S3RecordDto, region: string): NormalizedRecord | undefined => {
  const named = input.eventName.replace(/^s3:/, '');
  const eventName = Object.hasOwn(MINIO_EVENT_NAMES, named) ? MINIO_EVENT_NAMES[named] : named;
  if (eventName === null || eventName === undefined) return undefined;
  const bucket = input.s3.bucket.name;
  const key = decodeS3Key(input.s3.object.key);
  const object = input.s3.object;
  const eTag = object.eTag?.replace(/"/g, '');
  // The sequencer alone is not enough (s3rver's is a millisecond clock): add eTag, size, version.
  const id = createHash('sha256')
    .update([bucket, key, object.versionId ?? '', object.sequencer ?? '', eTag ?? '', String(object.size ?? ''), eventName].join('\u0000'))
    .digest('hex');
  const record: S3EventRecord = {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: input.awsRegion || region,
    eventTime: s3Time(input.eventTime),
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
      bucket: { name: bucket, ownerIdentity: { principalId: input.s3.bucket.ownerIdentity?.principalId ?? input.userIdentity?.principalId ?? 'tributary' }, arn: `arn:aws:s3:::${bucket}` },
      object: {
        key: encodeS3Key(key),
        ...(object.size !== undefined ? { size: object.size } : {}),
        ...(eTag ? { eTag } : {}),
        ...(object.versionId ? { versionId: object.versionId } : {}),
        ...(object.sequencer ? { sequencer: object.sequencer } : {}),
      },
    },
  };
  return { id, bucket, key, record };
};
