export {
  normalizeLabMessage,
  type LabMessageSource,
  type NormalizeOptions,
} from './lab-result.mapper';
export {
  criticalAlerts,
  assessCritical,
  type CriticalAssessment,
  type CriticalInput,
} from './critical-values';
export { resultKey } from './result-key';
export * from './normalization.errors';
export {
  parseHl7Timestamp,
  parseHl7Date,
  assertTimeZone,
  Hl7TimestampError,
} from './hl7-timestamp';
export { fieldValue, optionalValue } from './hl7-fields';
export {
  Hl7MessageReader,
  codedElement,
  notesOf,
  orderPriority,
  personName,
  priorityOf,
  providerName,
  resultStatus,
  type Hl7MessageSource,
  type PrioritySegments,
  type SentCode,
} from './hl7-message.reader';
export { parseReferenceRange, type ReferenceBounds } from './observation-value';
export type * from './lab-result.types';
