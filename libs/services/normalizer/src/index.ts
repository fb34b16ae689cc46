export * from './lab-normalizer.handler';
export * from './normalizer';
