export * from './code-systems';
export * from './csv.reader';
export * from './terminology.errors';
export * from './terminology.model';
export {
  Terminology,
  type OrderCoding,
  type TerminologySummary,
  type TerminologyTables,
} from './terminology';
export * from './terminology.loader';
export * from './terminology.store';
