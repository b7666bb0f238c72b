export * from './nats-client.js';
export * from './payload-store.js';
export * from './nats.module.js';
