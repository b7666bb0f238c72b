export * from './sandbox-pool.js';
export type { InvokeOutcome, InvokeRequest, InvokeResponse } from './sandbox.js';
export * from './log-frame.js';
export { InvalidPackageError, extractZip } from './code-cache.js';
export { DEFAULT_NODE_RUNTIMES_DIR, nodeRuntimes, runtimeNodeVersion } from './node-runtimes.js';
