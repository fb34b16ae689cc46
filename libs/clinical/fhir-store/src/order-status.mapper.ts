/**
 * What an ancillary's OrderStatusChanged does to the EHR's order (ServiceRequest or
 * MedicationRequest). Pure: the writer finds the order and decides whether the event is older
 * than the last one applied. Status codes: request-status
 * (https://hl7.org/fhir/R4/valueset-request-status.html) and medicationrequest-status
 * (https://hl7.org/fhir/R4/valueset-medicationrequest-status.html).
 *
 * | event        | ServiceRequest | MedicationRequest |
 * | ------------ | -------------- | ----------------- |
 * | ACCEPTED     | active (+ filler identifier) | active (+ filler identifier) |
 * | REJECTED     | revoked + order-rejection extension + note | cancelled + extension + note + statusReason |
 * | IN_PROGRESS  | active         | active            |
 * | COMPLETED    | completed      | completed         |
 * | CANCELLED    | revoked        | cancelled         |
 * | ON_HOLD      | on-hold        | on-hold           |
 * | UNKNOWN      | (no change)    | (no change)       |
 *
 * An order in a final state (completed, revoked/cancelled, stopped, entered-in-error) keeps it:
 * a late ACCEPTED never moves a completed or revoked order back to active.
 */
import type { OrderStatusChanged } from '@ancillary/contracts';
import {
  fillerOrderSystem,
  identifierType,
  nonEmpty,
  ORDER_REJECTION_EXTENSION,
} from './event.mapper';
import type { Annotation, Extension, Identifier } from './fhir.types';
import { FINAL_ORDER_STATUSES, type OrderResourceType } from './orders/order-codes';

export type OrderStatusCode = OrderStatusChanged['status'];

const SERVICE_REQUEST_STATUS: Record<OrderStatusCode, string | undefined> = {
  ACCEPTED: 'active',
  REJECTED: 'revoked',
  IN_PROGRESS: 'active',
  COMPLETED: 'completed',
  CANCELLED: 'revoked',
  ON_HOLD: 'on-hold',
  UNKNOWN: undefined,
};

const MEDICATION_REQUEST_STATUS: Record<OrderStatusCode, string | undefined> = {
  ACCEPTED: 'active',
  REJECTED: 'cancelled',
  IN_PROGRESS: 'active',
  COMPLETED: 'completed',
  CANCELLED: 'cancelled',
  ON_HOLD: 'on-hold',
  UNKNOWN: undefined,
};

/** The FHIR status an event asks for, undefined for UNKNOWN. */
export function orderStatusFor(
  type: OrderResourceType,
  status: OrderStatusCode,
): string | undefined {
  return (type === 'ServiceRequest' ? SERVICE_REQUEST_STATUS : MEDICATION_REQUEST_STATUS)[status];
}

export function isFinalOrderStatus(type: OrderResourceType, status: string): boolean {
  return FINAL_ORDER_STATUSES[type].includes(status);
}

/** Why an event's status was not applied to the order. */
export type StatusNotApplied =
  /** An event that occurred before the newest one applied to the order. */
  | 'OUT_OF_ORDER'
  /** The order is completed, revoked/cancelled, stopped or entered in error already. */
  | 'FINAL_STATUS'
  /** The event's status is UNKNOWN. */
  | 'UNKNOWN_STATUS';

export interface OrderStatusChange {
  /** The order as it must now be stored, without meta (equal to the stored one when nothing changes). */
  order: Record<string, unknown>;
  /** The order's status afterwards. */
  status: string;
  statusNotApplied?: StatusNotApplied;
}

/** The text of a rejection: the ancillary's reason, else what is known of its answer. */
export function rejectionReason(event: OrderStatusChanged): string {
  const reason = nonEmpty(event.reason);
  if (reason) return reason;
  const ack = nonEmpty(event.ackCode);
  return `rejected by ${event.sourceSystem}${ack ? ` (acknowledgment ${ack})` : ''} without a reason`;
}

/**
 * The order after the event. A filler order number is added as a FILL identifier whatever
 * happens to the status: it is new information, not a change of state, and results find the
 * order by it. The status changes only when the event is not out of order, its status is known
 * and the order is not in a final state.
 */
export function applyOrderStatus(
  type: OrderResourceType,
  stored: Record<string, unknown>,
  event: OrderStatusChanged,
  options: { outOfOrder: boolean },
): OrderStatusChange {
  const { meta: _meta, ...order } = stored;
  const current = typeof order['status'] === 'string' ? order['status'] : 'unknown';

  const filler = nonEmpty(event.fillerOrderNumber);
  if (filler) {
    const system = fillerOrderSystem(event.sourceSystem);
    const identifiers = Array.isArray(order['identifier'])
      ? (order['identifier'] as Identifier[])
      : [];
    if (!identifiers.some((i) => i.system === system && i.value === filler)) {
      order['identifier'] = [
        ...identifiers,
        { type: identifierType('FILL'), system, value: filler },
      ];
    }
  }

  const target = orderStatusFor(type, event.status);
  let statusNotApplied: StatusNotApplied | undefined;
  if (options.outOfOrder) statusNotApplied = 'OUT_OF_ORDER';
  else if (target === undefined) statusNotApplied = 'UNKNOWN_STATUS';
  else if (target !== current && isFinalOrderStatus(type, current))
    statusNotApplied = 'FINAL_STATUS';
  if (statusNotApplied || target === undefined) {
    return { order, status: current, ...(statusNotApplied ? { statusNotApplied } : {}) };
  }

  order['status'] = target;
  const reason = nonEmpty(event.reason);
  if (event.status === 'REJECTED' && target !== current) {
    const text = rejectionReason(event);
    const others = Array.isArray(order['extension'])
      ? (order['extension'] as Extension[]).filter((e) => e.url !== ORDER_REJECTION_EXTENSION)
      : [];
    order['extension'] = [...others, { url: ORDER_REJECTION_EXTENSION, valueString: text }];
    order['note'] = [...notesOf(order), { text: `Rejected by ${event.sourceSystem}: ${text}` }];
    if (type === 'MedicationRequest') order['statusReason'] = { text };
  } else if (event.status === 'CANCELLED' && target !== current && reason) {
    order['note'] = [...notesOf(order), { text: `Cancelled by ${event.sourceSystem}: ${reason}` }];
  }
  return { order, status: target };
}

function notesOf(order: Record<string, unknown>): Annotation[] {
  return Array.isArray(order['note']) ? (order['note'] as Annotation[]) : [];
}
