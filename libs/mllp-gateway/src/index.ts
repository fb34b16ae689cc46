export * from './dedupe.store';
export * from './inbound.gateway';
export * from './mllp-gateway.module';
