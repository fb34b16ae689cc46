export * from './health.controller';
export * from './observability.module';
export * from './pino-nest.logger';
export * from './readiness.registry';
export * from './tokens';
