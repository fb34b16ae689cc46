export * from './config.loader';
export * from './node-version';
