export * from './function-registry.js';
export * from './registry.module.js';
