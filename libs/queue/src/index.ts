export * from './invocation-queues.js';
export * from './function-workers.js';
export * from './invocation-job.js';
export * from './redis.module.js';
export * from './work-announcer.js';
