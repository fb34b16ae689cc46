export * from './lab-gateway';
