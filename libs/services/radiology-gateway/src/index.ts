export * from './radiology-gateway';
