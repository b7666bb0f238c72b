export * from './nats-client.js';
export * from './payload-store.js';
export * from './nats.module.js';
export * from './invocation-client.js';
export * from './durable-consumer.js';
