export * from './billing-state.repository';
export * from './charge.trigger';
export * from './billing-trigger.consumers';
export * from './billing-trigger';
export * from './charge-master.controller';
