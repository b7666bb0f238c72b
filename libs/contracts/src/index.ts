export * from './names.js';
export * from './lambda.js';
export * from './function.js';
export * from './cloud-event.js';
export * from './invocation.js';
