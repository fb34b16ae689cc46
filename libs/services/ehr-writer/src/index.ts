export * from './ehr-writer';
export * from './lab-result.writer';
