export * from './database.pool';
