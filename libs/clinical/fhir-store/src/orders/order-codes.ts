/**
 * The codes the order API reads and writes: FHIR R4 value sets of ServiceRequest and
 * MedicationRequest, the SNOMED CT categories that decide an order's department, and the
 * identifier types of placer and filler numbers (HL7 v2 table 0203).
 */
import type { OrderEvent } from '@ancillary/contracts';
import {
  CPT_SYSTEM,
  LOINC_SYSTEM,
  RXNORM_SYSTEM,
  SNOMED_SYSTEM,
  V2_0487_SYSTEM,
} from '@ancillary/terminology';

export { CPT_SYSTEM, LOINC_SYSTEM, RXNORM_SYSTEM, SNOMED_SYSTEM, V2_0487_SYSTEM };

export type OrderResourceType = 'ServiceRequest' | 'MedicationRequest';
export type OrderCategory = OrderEvent['category'];
export type OrderAction = OrderEvent['action'];
export type OrderLane = OrderEvent['lane'];

export const ORDER_RESOURCE_TYPES: readonly OrderResourceType[] = [
  'ServiceRequest',
  'MedicationRequest',
];

export function isOrderResourceType(value: string): value is OrderResourceType {
  return (ORDER_RESOURCE_TYPES as readonly string[]).includes(value);
}

/** http://terminology.hl7.org/CodeSystem/v2-0203: PLAC (placer) and FILL (filler) numbers. */
export const IDENTIFIER_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0203';

/** Filler order numbers are kept under `urn:ancillary:filler-order:<sourceSystem>`. */
export const FILLER_ORDER_SYSTEM_PREFIX = 'urn:ancillary:filler-order:';

/** https://hl7.org/fhir/R4/valueset-request-priority.html; absent means routine. */
export const REQUEST_PRIORITIES = ['routine', 'urgent', 'asap', 'stat'] as const;
export type RequestPriority = (typeof REQUEST_PRIORITIES)[number];

/** https://hl7.org/fhir/R4/valueset-request-status.html (ServiceRequest.status). */
export const REQUEST_STATUSES = [
  'draft',
  'active',
  'on-hold',
  'revoked',
  'completed',
  'entered-in-error',
  'unknown',
] as const;

/** https://hl7.org/fhir/R4/valueset-medicationrequest-status.html */
export const MEDICATION_REQUEST_STATUSES = [
  'active',
  'on-hold',
  'cancelled',
  'completed',
  'entered-in-error',
  'stopped',
  'draft',
  'unknown',
] as const;

/** https://hl7.org/fhir/R4/valueset-request-intent.html */
export const REQUEST_INTENTS = [
  'proposal',
  'plan',
  'directive',
  'order',
  'original-order',
  'reflex-order',
  'filler-order',
  'instance-order',
  'option',
] as const;

/** https://hl7.org/fhir/R4/valueset-medicationrequest-intent.html */
export const MEDICATION_REQUEST_INTENTS = [
  'proposal',
  'plan',
  'order',
  'original-order',
  'reflex-order',
  'filler-order',
  'instance-order',
  'option',
] as const;

/** The intents that are an order to act on (the others are plans, proposals or options). */
export const PLACEABLE_INTENTS: readonly string[] = ['order', 'original-order'];

/** The status a cancelled order takes: ServiceRequest `revoked`, MedicationRequest `cancelled`. */
export const CANCELLED_STATUS: Readonly<Record<OrderResourceType, string>> = {
  ServiceRequest: 'revoked',
  MedicationRequest: 'cancelled',
};

/** Statuses an order never leaves (a result, a cancellation or an error ended it). */
export const FINAL_ORDER_STATUSES: Readonly<Record<OrderResourceType, readonly string[]>> = {
  ServiceRequest: ['revoked', 'completed', 'entered-in-error'],
  MedicationRequest: ['cancelled', 'completed', 'entered-in-error', 'stopped'],
};

/**
 * ServiceRequest.category codings that name the department (the R4 example binding,
 * https://hl7.org/fhir/R4/valueset-servicerequest-category.html).
 */
export const SERVICE_REQUEST_CATEGORIES: Readonly<Record<string, OrderCategory>> = {
  '108252007': 'LABORATORY',
  '363679005': 'IMAGING',
};

/** https://hl7.org/fhir/R4/valueset-administrative-gender.html → HL7 v2 table 0001. */
export const ADMINISTRATIVE_SEX: Readonly<Record<string, string>> = {
  male: 'M',
  female: 'F',
  other: 'O',
  unknown: 'U',
};
