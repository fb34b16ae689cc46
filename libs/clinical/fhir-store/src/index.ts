export * from './content';
export * from './date-range';
export * from './errors';
export * from './fhir.store';
export * from './fhir.types';
export * from './ids';
export * from './charge-item.mapper';
export { BILLING_SOURCE_SYSTEM, type ChargeItemReceipt } from './charge-item.writer';
export * from './dispense.mapper';
export type { DispenseWriteReceipt } from './dispense.writer';
export {
  completeOrder,
  DICOM_DCM,
  eventSource,
  FINAL_REPORT_STATUSES,
  ORDER_PRIORITY_EXTENSION,
  ORDER_REJECTION_EXTENSION,
  type OrderCompletion,
  patientFromCanonical,
  patientKeys,
  type PatientKeys,
  RESULT_PRIORITY_EXTENSION,
  resultCompletesOrder,
  resultPriorityExtensions,
} from './event.mapper';
export type { EventKind, EventLedgerEntry, EventWriteReceipt, LinkedOrder } from './event-writer';
export * from './imaging-report.mapper';
export type { ImagingWriteReceipt } from './imaging-report.writer';
export * from './lab-result.mapper';
export type { LabWriteReceipt, UnchangedReason, WriteOutcome } from './lab-result.writer';
export * from './migrations';
export {
  applyOrderStatus,
  isFinalOrderStatus,
  type OrderStatusChange,
  orderStatusFor,
  rejectionReason,
  type StatusNotApplied,
} from './order-status.mapper';
export type { OrderStatusReceipt } from './order-status.writer';
export * from './orders';
export * from './search-parameters';
export * from './search-query';
