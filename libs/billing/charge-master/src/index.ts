export * from './money';
export * from './charge-master';
export * from './charge-master.store';
