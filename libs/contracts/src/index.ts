export * from './generated';
export * from './headers';
export * from './topics';
export * from './ids';
