/** The S3 event record a function receives, exactly as AWS delivers it. */
export interface S3EventRecord {
  eventVersion: string;
  eventSource: 'aws:s3';
  awsRegion: string;
  eventTime: string;
  eventName: string;
  userIdentity: { principalId: string };
  requestParameters: { sourceIPAddress: string };
  responseElements: Record<string, string>;
  s3: {
    s3SchemaVersion: '1.0';
    configurationId: string;
    bucket: { name: string; ownerIdentity: { principalId: string }; arn: string };
    object: { key: string; size?: number; eTag?: string; versionId?: string; sequencer?: string };
  };
}

export interface S3Event {
  Records: S3EventRecord[];
}

/** One function trigger of a bucket, as PutBucketNotificationConfiguration defines it. */
export interface LambdaTrigger {
  id: string;
  functionArn: string;
  functionName: string;
  /** S3 event types, with the `s3:` prefix, wildcards allowed (`s3:ObjectCreated:*`). */
  events: string[];
  prefix?: string;
  suffix?: string;
}

/** A bucket's notification configuration. Persisted in the triggers bucket, keyed by bucket. */
export interface BucketNotification {
  v: 1;
  bucket: string;
  lambda: LambdaTrigger[];
}

/** Event types S3 can notify about (without the `s3:` prefix). */
export const S3_EVENT_TYPES = [
  'ObjectCreated:*', 'ObjectCreated:Put', 'ObjectCreated:Post', 'ObjectCreated:Copy', 'ObjectCreated:CompleteMultipartUpload',
  'ObjectRemoved:*', 'ObjectRemoved:Delete', 'ObjectRemoved:DeleteMarkerCreated',
  'ObjectRestore:*', 'ObjectRestore:Post', 'ObjectRestore:Completed', 'ObjectRestore:Delete',
  'ObjectTagging:*', 'ObjectTagging:Put', 'ObjectTagging:Delete',
  'ObjectAcl:Put', 'LifecycleExpiration:*', 'LifecycleExpiration:Delete', 'LifecycleExpiration:DeleteMarkerCreated',
  'Replication:*', 'Replication:OperationFailedReplication', 'Replication:OperationMissedThreshold',
  'Replication:OperationReplicatedAfterThreshold', 'Replication:OperationNotTracked',
  'ReducedRedundancyLostObject', 'IntelligentTiering', 'LifecycleTransition',
] as const;

/** `ObjectCreated:Put` matches `s3:ObjectCreated:Put` and `s3:ObjectCreated:*`. */
export const s3EventMatches = (pattern: string, eventName: string): boolean => {
  const p = pattern.replace(/^s3:/, '');
  return p.endsWith(':*') ? eventName.startsWith(p.slice(0, -1)) : p === eventName;
};

/**
 * An object key as S3 writes it into event records: form encoding (`+` for a space, UTF-8
 * percent escapes) with `/` kept, the way Java's URLEncoder does it.
 */
export const encodeS3Key = (key: string): string =>
  encodeURIComponent(key)
    .replace(/%20/g, '+')
    .replace(/%2F/gi, '/')
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The raw key from an encoded one, whichever encoding the store used (`+` or `%20`, `%2F` or `/`). */
export const decodeS3Key = (encoded: string): string => {
  const plus = encoded.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
};
