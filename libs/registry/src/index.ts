export * from './function-registry.js';
export * from './registry.module.js';
export * from './zip.js';
export * from './watched-kv.js';
export * from './trigger-registry.js';
