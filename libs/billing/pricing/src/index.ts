export * from './billable-work';
export * from './order-context';
export * from './charge-ids';
export * from './charge-decision';
