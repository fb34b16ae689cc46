export * from './order-codes';
export * from './order-event';
export * from './order-router';
export * from './order.errors';
export type { OrderMetrics } from './order.metrics';
export * from './order.validation';
export {
  changedElements,
  type CreatePatientOptions,
  type CreateReceipt,
  DEFAULT_ORDER_SOURCE,
  type IdentifierCriteria,
  type OrderReceipt,
  type PlaceOrderOptions,
  type UpdateOrderOptions,
  type UpdateOrderReceipt,
} from './order.writer';
export * from './outbox';
export * from './placer-number';
