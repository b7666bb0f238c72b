export * from './s3-record.js';
export * from './notification-configuration.js';
export * from './object-store-client.js';
