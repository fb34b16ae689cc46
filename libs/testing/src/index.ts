export * from './names';
export * from './stack';
export * from './test-config';
export * from './test-logger';
export * from './test-topics';
export * from './wait-for';
export * from './scratch-kafka';
export * from './scratch-database';
