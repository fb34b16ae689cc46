/**
 * What the canonical events (LabResult, ImagingReport, MedicationDispensed, OrderStatusChanged)
 * share once mapped to FHIR R4: the patient's identity and demographics, order identifiers,
 * instants and codings, and the extensions this platform defines. Pure functions; the writers
 * decide which stored resources they apply to.
 */
import type { LabResult } from '@ancillary/contracts';
import { CPT_SYSTEM, NDC_SYSTEM, RXNORM_SYSTEM, SNOMED_SYSTEM } from '@ancillary/terminology';
import type {
  Annotation,
  CodeableConcept,
  Coding,
  Extension,
  Identifier,
  Patient,
  Reference,
  ServiceRequest,
} from './fhir.types';
import { nameBasedId } from './ids';
import { FINAL_ORDER_STATUSES } from './orders/order-codes';

export { CPT_SYSTEM, NDC_SYSTEM, RXNORM_SYSTEM, SNOMED_SYSTEM };

export const LOINC = 'http://loinc.org';
export const UCUM = 'http://unitsofmeasure.org';
/** DICOM controlled terminology (modalities): https://hl7.org/fhir/R4/codesystem-dicom-dcim.html */
export const DICOM_DCM = 'http://dicom.nema.org/resources/ontology/DCM';
export const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
export const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';

/**
 * A result the order rules flag high priority (e.g. the result of a STAT order): valueCode
 * `high`. R4 DiagnosticReport has no priority element and meta.tag belongs to the writer, so an
 * extension carries it (https://hl7.org/fhir/R4/extensibility.html).
 */
export const RESULT_PRIORITY_EXTENSION =
  'http://ancillary-hub.example.org/fhir/StructureDefinition/result-priority';
/** Beside RESULT_PRIORITY_EXTENSION: the priority of the order (request-priority code). */
export const ORDER_PRIORITY_EXTENSION =
  'http://ancillary-hub.example.org/fhir/StructureDefinition/order-priority';
/** On a ServiceRequest / MedicationRequest the ancillary refused: valueString = its reason. */
export const ORDER_REJECTION_EXTENSION =
  'http://ancillary-hub.example.org/fhir/StructureDefinition/order-rejection';

/** Default identifier system of placer order numbers (ORC-2/OBR-2) when none is configured. */
export const DEFAULT_PLACER_ORDER_SYSTEM = 'urn:ancillary:placer-order';

/**
 * Filler order numbers (ORC-3/OBR-3) are assigned by the ancillary, so scoped to it:
 * `urn:ancillary:filler-order:<sourceSystem>`, the system the order API also recognises
 * (orders/ FILLER_ORDER_SYSTEM_PREFIX), so a result and the order's accepted status name the
 * same identifier.
 */
export function fillerOrderSystem(sourceSystem: string): string {
  return `urn:ancillary:filler-order:${encodeURIComponent(sourceSystem)}`;
}

/** meta.source of every version a message-borne event writes. */
export function messageSource(sourceSystem: string, messageControlId: string): string {
  return `urn:ancillary:message:${sourceSystem}:${messageControlId}`;
}

/**
 * meta.source for an event: its message (MSH-10) when it came in one, else the event itself
 * (a FHIR MedicationDispense POSTed to a gateway has no MSH-10).
 */
export function eventSource(
  sourceSystem: string,
  messageControlId: string | null,
  eventId: string,
): string {
  const control = nonEmpty(messageControlId);
  return control
    ? messageSource(sourceSystem, control)
    : `urn:ancillary:event:${sourceSystem}:${eventId}`;
}

/** The patient block every canonical event carries (one Avro record, PatientRef). */
export type CanonicalPatient = LabResult['patient'];
export type CanonicalCoding = LabResult['order']['code'];

/** Builds the permanent error a mapper throws for input it cannot write. */
export type InvalidInput = (message: string) => Error;

export interface PatientIdentifierKey {
  /** '' when PID-3 carried no assigning authority. */
  system: string;
  value: string;
  type: string | null;
}

export interface PatientKeys {
  /** Deduplicated, in message order: the patient is matched by any of them. */
  patientIdentifiers: PatientIdentifierKey[];
  /** The id a patient first seen in this event gets. */
  newPatientId: string;
}

export function nonEmpty(value: string | null | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

export function identifierType(code: string): CodeableConcept {
  return { coding: [{ system: V2_0203, code }] };
}

/** Validates and deduplicates the patient identifiers (PID-3): at least one is required. */
export function patientKeys(patient: CanonicalPatient, invalid: InvalidInput): PatientKeys {
  const patientIdentifiers: PatientIdentifierKey[] = [];
  const seen = new Set<string>();
  for (const [i, id] of patient.identifiers.entries()) {
    const value = nonEmpty(id.value);
    if (!value) throw invalid(`patient.identifiers[${i}].value (PID-3) is empty`);
    const system = nonEmpty(id.system) ?? '';
    const key = `${system}|${value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    patientIdentifiers.push({ system, value, type: nonEmpty(id.type) ?? null });
  }
  const first = patientIdentifiers[0];
  if (!first) {
    throw invalid(
      'patient.identifiers (PID-3) is empty: nothing can be filed without a patient identifier',
    );
  }
  // The smallest identifier, so a new patient's id does not depend on PID-3's order.
  const smallest = patientIdentifiers.reduce(
    (min, i) => (`${i.system}|${i.value}` < `${min.system}|${min.value}` ? i : min),
    first,
  );
  return {
    patientIdentifiers,
    newPatientId: nameBasedId('Patient', smallest.system, smallest.value),
  };
}

/** HL7 table 0001 to FHIR administrative-gender (v2-to-FHIR ConceptMap). */
const GENDER: Record<string, Patient['gender']> = {
  M: 'male',
  F: 'female',
  O: 'other',
  A: 'other',
  N: 'other',
  U: 'unknown',
};

const BIRTH_DATE = /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$/;

export interface PatientUpdate {
  patient: Patient;
  /** Demographics the event carried but the repository could not use (kept as they were). */
  warnings: string[];
}

/**
 * The Patient after an event: identifiers merged (an event that lists only the MRN does not
 * drop an identifier another message added), demographics taken from the event where it has
 * them and kept where it has not. A demographic value that cannot be read (a sex code outside
 * table 0001, a malformed birth date) is left out with a warning instead of holding up a
 * result, which may be critical, over a field the result does not depend on.
 */
export function patientFromCanonical(
  canonical: CanonicalPatient,
  identifierKeys: readonly PatientIdentifierKey[],
  id: string,
  existing?: Record<string, unknown>,
): PatientUpdate {
  const warnings: string[] = [];
  const previous = (existing ?? {}) as Partial<Patient>;
  const identifiers: Identifier[] = Array.isArray(previous.identifier)
    ? [...previous.identifier]
    : [];
  const has = (system: string, value: string): boolean =>
    identifiers.some((i) => (i.system ?? '') === system && i.value === value);
  for (const key of identifierKeys) {
    if (has(key.system, key.value)) continue;
    identifiers.push({
      ...(key.type ? { type: identifierType(key.type) } : {}),
      ...(key.system ? { system: key.system } : {}),
      value: key.value,
    });
  }
  const family = nonEmpty(canonical.familyName);
  const given = canonical.givenNames.map((g) => g.trim()).filter((g) => g.length > 0);
  let birthDate = nonEmpty(canonical.birthDate);
  if (birthDate !== undefined && !BIRTH_DATE.test(birthDate)) {
    warnings.push('patient.birthDate is not YYYY, YYYY-MM or YYYY-MM-DD; kept as it was');
    birthDate = undefined;
  }
  const sex = nonEmpty(canonical.administrativeSex)?.toUpperCase();
  const gender = sex ? GENDER[sex] : undefined;
  if (sex && !gender) {
    warnings.push('patient.administrativeSex is not an HL7 table 0001 code; kept as it was');
  }
  const { meta: _meta, ...rest } = previous;
  const patient: Patient = {
    ...rest,
    resourceType: 'Patient',
    id,
    identifier: identifiers,
    ...(family || given.length > 0
      ? { name: [{ ...(family ? { family } : {}), ...(given.length > 0 ? { given } : {}) }] }
      : {}),
    ...(gender ? { gender } : {}),
    ...(birthDate ? { birthDate } : {}),
  };
  return { patient, warnings };
}

/** An Avro timestamp-millis as a FHIR instant; undefined for null. */
export function instant(
  ms: number | null,
  field: string,
  invalid: InvalidInput,
): string | undefined {
  if (ms === null) return undefined;
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) throw invalid(`${field} ${ms} is out of range`);
  return date.toISOString();
}

/** A canonical coding as FHIR, undefined when it has no code; `defaultSystem` when it has none. */
export function coding(
  c: CanonicalCoding | null | undefined,
  defaultSystem?: string,
): Coding | undefined {
  const code = nonEmpty(c?.code);
  if (!c || !code) return undefined;
  const system = nonEmpty(c.system) ?? defaultSystem;
  const display = nonEmpty(c.display);
  return { ...(system ? { system } : {}), code, ...(display ? { display } : {}) };
}

/** The codings of a concept, dropping repeats of the same system and code. */
export function concept(codings: (Coding | undefined)[], text?: string): CodeableConcept {
  const out: Coding[] = [];
  for (const c of codings) {
    if (!c) continue;
    if (out.some((o) => o.system === c.system && o.code === c.code)) continue;
    out.push(c);
  }
  return { coding: out, ...(text ? { text } : {}) };
}

export function reference(type: string, id: string): Reference {
  return { reference: `${type}/${id}` };
}

export function notes(texts: readonly string[]): Annotation[] {
  return texts
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .map((text) => ({ text }));
}

const REQUEST_PRIORITIES = new Set(['routine', 'urgent', 'asap', 'stat']);

/** A FHIR request-priority code (https://hl7.org/fhir/R4/valueset-request-priority.html). */
export function requestPriority(
  value: string | null | undefined,
): ServiceRequest['priority'] | undefined {
  const priority = nonEmpty(value)?.toLowerCase();
  return priority && REQUEST_PRIORITIES.has(priority)
    ? (priority as ServiceRequest['priority'])
    : undefined;
}

/**
 * The extensions of a high-priority result: `result-priority` = `high`, and beside it
 * `order-priority` = the order's request priority when known. None for other results, so a
 * routine report carries nothing extra.
 */
export function resultPriorityExtensions(
  highPriority: boolean,
  orderPriority: string | null | undefined,
): Extension[] {
  if (!highPriority) return [];
  const priority = requestPriority(orderPriority);
  return [
    { url: RESULT_PRIORITY_EXTENSION, valueCode: 'high' },
    ...(priority ? [{ url: ORDER_PRIORITY_EXTENSION, valueCode: priority }] : []),
  ];
}

export type CanonicalResultStatus = LabResult['status'];

/** A report in one of these states means the order was carried out: its request is completed. */
export function resultCompletesOrder(status: CanonicalResultStatus): boolean {
  return status === 'FINAL' || status === 'CORRECTED';
}

/** DiagnosticReport statuses that count as a final result of the order. */
export const FINAL_REPORT_STATUSES: readonly string[] = [
  'final',
  'corrected',
  'amended',
  'appended',
];

/** What a final result does to the EHR's ServiceRequest it is based on. */
export type OrderCompletion =
  /** The order as it must now be stored (status completed), without meta. */
  | { action: 'complete'; order: Record<string, unknown> }
  /** Nothing to do: the result is not final, or the order is completed already. */
  | { action: 'none' }
  /** The order is revoked (or entered in error): a result never revives it. */
  | { action: 'keep'; status: string };

export function completeOrder(
  stored: Record<string, unknown>,
  resultStatus: CanonicalResultStatus,
): OrderCompletion {
  if (!resultCompletesOrder(resultStatus)) return { action: 'none' };
  const status = typeof stored['status'] === 'string' ? stored['status'] : 'unknown';
  if (status === 'completed') return { action: 'none' };
  if (FINAL_ORDER_STATUSES.ServiceRequest.includes(status)) return { action: 'keep', status };
  const { meta: _meta, ...content } = stored;
  return { action: 'complete', order: { ...content, status: 'completed' } };
}
