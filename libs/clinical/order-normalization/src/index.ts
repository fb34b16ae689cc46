export { normalizeImagingMessage, type ImagingNormalizeOptions } from './imaging-report.mapper';
export {
  assembleReport,
  type AssembledReport,
  type ReportLine,
  type ReportSection,
} from './report-text';
export {
  normalizeDispenseMessage,
  dispenseStatus,
  type DispenseNormalizeOptions,
} from './dispense.mapper';
export {
  dispenseCodings,
  type DispenseCoding,
  type DispenseStatus,
  type SentProduct,
} from './dispense-codings';
export {
  normalizeFhirDispense,
  type FhirDispenseOptions,
  type FhirEnvelopeSource,
} from './fhir-dispense.mapper';
export {
  orderStatusFromMessage,
  isStatusMessageType,
  ORDER_ANSWER_MESSAGE_TYPES,
  ORDER_STATUS_MESSAGE_TYPES,
  STATUS_MESSAGE_TYPES,
  type OrderStatusCode,
  type OrderStatusOptions,
} from './order-status.mapper';
