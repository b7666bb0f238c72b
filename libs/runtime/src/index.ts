export * from './sandbox-pool.js';
export type { InvokeOutcome, InvokeRequest, InvokeResponse } from './sandbox.js';
export * from './log-frame.js';
export { InvalidPackageError, extractZip } from './code-cache.js';
