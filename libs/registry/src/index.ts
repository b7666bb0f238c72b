export * from './function-registry.js';
export * from './registry.module.js';
export * from './zip.js';
