export * from './health.registry.js';
export * from './observability.module.js';
export * from './start-service.js';
export * from './periodic-task.js';
export * from './large-bodies.js';
