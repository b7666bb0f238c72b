import { S3Client } from '@aws-sdk/client-s3';

export interface ObjectStoreSettings {
  /** S3-compatible endpoint (MinIO, say); absent: AWS S3 itself. */
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  region: string;
}

/**
 * An S3 client for the configured store: path-style addressing (what S3-compatible stores
 * expect), explicit credentials when given, the SDK's default chain otherwise.
 */
export const objectStoreClient = (settings: ObjectStoreSettings): S3Client =>
  new S3Client({
    region: settings.region,
    maxAttempts: 2,
    ...(settings.endpoint ? { endpoint: settings.endpoint, forcePathStyle: true } : {}),
    ...(settings.accessKeyId && settings.secretAccessKey
      ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }
      : {}),
  });
