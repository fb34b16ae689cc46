export * from './service-config';
export * from './start-service';
