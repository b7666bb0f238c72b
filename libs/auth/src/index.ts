export * from './sigv4.js';
export * from './signature-hook.js';
