export * from './normalization.flow';
export * from './lab-normalizer.handler';
export * from './radiology-normalizer.handler';
export * from './pharmacy-normalizer.handler';
export * from './normalizer';
