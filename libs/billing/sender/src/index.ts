export * from './billing-sender.config';
export * from './billing-sender.errors';
export * from './sent-transactions.repository';
export * from './billing-sender.service';
export * from './billing-sender.module';
