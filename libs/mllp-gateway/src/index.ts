export * from './ancillary-gateway';
export * from './dedupe.store';
export * from './gateway-env';
export * from './inbound.gateway';
export * from './mllp-gateway.module';
