export * from './mllp.client';
export * from './mllp.errors';
export * from './mllp.framer';
export * from './mllp.observability';
export * from './mllp.server';
