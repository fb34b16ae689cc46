export * from './ehr-writer';
export * from './lab-result.writer';
export * from './order-outbox.relay';
