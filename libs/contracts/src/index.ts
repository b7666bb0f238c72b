export * from './names.js';
export * from './lambda.js';
export * from './function.js';
export * from './cloud-event.js';
export * from './invocation.js';
export * from './lambda-api.dto.js';
export * from './event.dto.js';
export * from './validate.js';
