export * from './retry-policy';
export * from './time-limit';
