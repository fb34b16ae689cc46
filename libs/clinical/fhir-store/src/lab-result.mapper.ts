/**
 * The canonical LabResult as FHIR R4: Patient, ServiceRequest (the placer order), Specimen,
 * one Observation per result line and the DiagnosticReport linking them. Pure functions: the
 * writer resolves which patient and order the result belongs to, this module says what the
 * resources must contain. Mapping choices follow the HL7 v2-to-FHIR ORU^R01 mapping
 * (https://build.fhir.org/ig/HL7/v2-to-fhir/) and the US Core lab profiles where they agree.
 */
import type { LabResult } from '@ancillary/contracts';
import { InvalidLabResultError } from './errors';
import {
  type CanonicalCoding,
  coding,
  DEFAULT_PLACER_ORDER_SYSTEM,
  fillerOrderSystem,
  identifierType,
  instant as eventInstant,
  LOINC,
  messageSource,
  nonEmpty,
  notes,
  type PatientIdentifierKey,
  patientFromCanonical,
  patientKeys,
  type PatientUpdate,
  reference,
  requestPriority,
  resultPriorityExtensions,
  UCUM,
  V2_0203,
  V2_0074,
} from './event.mapper';
import type {
  CodeableConcept,
  Coding,
  DiagnosticReport,
  DiagnosticReportStatus,
  Extension,
  Identifier,
  Observation,
  ObservationStatus,
  Quantity,
  ReferenceRange,
  ServiceRequest,
  Specimen,
} from './fhir.types';
import { nameBasedId } from './ids';

// Moved to event.mapper.ts (shared by every canonical event); still exported from here.
export {
  DEFAULT_PLACER_ORDER_SYSTEM,
  fillerOrderSystem,
  LOINC,
  messageSource,
  UCUM,
  V2_0203,
  V2_0074,
  type PatientIdentifierKey,
  type PatientUpdate,
};

// The generated contract exports the record type; its nested types are reached through it.
type ResultStatus = LabResult['status'];
type LabObservation = LabResult['observations'][number];

export const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
export const DATA_ABSENT_REASON = 'http://terminology.hl7.org/CodeSystem/data-absent-reason';
/** R5's DiagnosticReport.note carried in R4 as a cross-version extension. */
export const REPORT_NOTE_EXTENSION =
  'http://hl7.org/fhir/5.0/StructureDefinition/extension-DiagnosticReport.note';

export function specimenIdentifierSystem(sourceSystem: string): string {
  return `urn:ancillary:${encodeURIComponent(sourceSystem)}:specimen`;
}

export interface ObservationKey {
  id: string;
  identifier: Identifier;
  /** The result line it identifies. */
  line: LabObservation;
}

/** The business identity of a lab result and the resource ids it maps to. */
export interface LabResultKeys {
  /** What identifies the report: the filler order, else the placer order, else the message. */
  reportKey: { kind: 'FILL' | 'PLAC' | 'EVENT'; system: string; value: string };
  diagnosticReportId: string;
  /** PLAC and FILL identifiers of the order (those the message has). */
  orderIdentifiers: Identifier[];
  /** The placer order number to look an EHR-sent ServiceRequest up by. */
  placer?: { system: string; value: string };
  /** Id of the ServiceRequest this repository creates when no EHR-sent one exists. */
  serviceRequestId?: string;
  specimenId?: string;
  /** One per result line, in message order. */
  observations: ObservationKey[];
  /** The ids of `observations`, in the same order. */
  observationIds: string[];
  patientIdentifiers: PatientIdentifierKey[];
  /** The id a patient first seen in this result gets. */
  newPatientId: string;
}

const invalid = (message: string): Error => new InvalidLabResultError(message);

/**
 * Computes the keys and ids of a result, validating what the repository needs: at least one
 * patient identifier and a code on every observation.
 */
export function labResultKeys(result: LabResult, placerOrderSystem: string): LabResultKeys {
  const source = result.sourceSystem;
  const { patientIdentifiers, newPatientId } = patientKeys(result.patient, invalid);

  const filler = nonEmpty(result.order.fillerOrderNumber);
  const placerNumber = nonEmpty(result.order.placerOrderNumber);
  const placer = placerNumber ? { system: placerOrderSystem, value: placerNumber } : undefined;
  const fillerKey = filler ? { system: fillerOrderSystem(source), value: filler } : undefined;

  const reportKey: LabResultKeys['reportKey'] = fillerKey
    ? { kind: 'FILL', ...fillerKey }
    : placer
      ? { kind: 'PLAC', ...placer }
      : {
          // No order number at all (an unsolicited result): the message is the only identity,
          // so a later correction of it cannot be matched and becomes a report of its own.
          kind: 'EVENT',
          system: `urn:ancillary:${encodeURIComponent(source)}:message`,
          value: `${result.messageControlId}:${result.orderIndex}`,
        };
  const orderIdentifiers: Identifier[] = [];
  if (placer) orderIdentifiers.push({ type: identifierType('PLAC'), ...placer });
  if (fillerKey) orderIdentifiers.push({ type: identifierType('FILL'), ...fillerKey });
  const orderKey = placer ?? fillerKey;

  const observationSystem = `urn:ancillary:${encodeURIComponent(source)}:observation${
    reportKey.kind === 'FILL' ? '' : `:${reportKey.kind.toLowerCase()}`
  }`;
  const occurrences = new Map<string, number>();
  const observations = result.observations.map((obs, i): ObservationKey => {
    const code = nonEmpty(obs.code.code) ?? nonEmpty(obs.localCode.code);
    if (!code) {
      throw new InvalidLabResultError(`observations[${i}] (OBX-${obs.setId}) has no code`);
    }
    // A repeated code (the same analyte twice in one report) is told apart by its occurrence,
    // which stays stable across a corrected resend even when the OBX set ids are renumbered.
    const n = (occurrences.get(code) ?? 0) + 1;
    occurrences.set(code, n);
    const value = `${reportKey.value}:${code}${n > 1 ? `:${n}` : ''}`;
    return {
      id: nameBasedId('Observation', observationSystem, value),
      identifier: { system: observationSystem, value },
      line: obs,
    };
  });

  const specimenValue = result.specimen ? nonEmpty(result.specimen.identifier) : undefined;
  return {
    reportKey,
    diagnosticReportId: nameBasedId('DiagnosticReport', reportKey.system, reportKey.value),
    orderIdentifiers,
    ...(placer ? { placer } : {}),
    ...(orderKey
      ? { serviceRequestId: nameBasedId('ServiceRequest', orderKey.system, orderKey.value) }
      : {}),
    ...(result.specimen
      ? {
          specimenId: specimenValue
            ? nameBasedId('Specimen', specimenIdentifierSystem(source), specimenValue)
            : nameBasedId('Specimen', reportKey.system, reportKey.value),
        }
      : {}),
    observations,
    observationIds: observations.map((o) => o.id),
    patientIdentifiers,
    newPatientId,
  };
}

function instant(ms: number | null): string | undefined {
  return eventInstant(ms, 'timestamp', invalid);
}

/** The mapped code first (LOINC), then the code as the ancillary sent it. */
function concept(mapped: CanonicalCoding | null, local: CanonicalCoding | null): CodeableConcept {
  const codings: Coding[] = [];
  const first = coding(mapped);
  const second = coding(local);
  if (first) codings.push(first);
  if (second && !(first && second.system === first.system && second.code === first.code)) {
    codings.push(second);
  }
  const text = nonEmpty(local?.display) ?? nonEmpty(mapped?.display);
  return { coding: codings, ...(text ? { text } : {}) };
}

const DIAGNOSTIC_REPORT_STATUS: Record<ResultStatus, DiagnosticReportStatus> = {
  PRELIMINARY: 'preliminary',
  FINAL: 'final',
  CORRECTED: 'corrected',
  CANCELLED: 'cancelled',
  UNKNOWN: 'unknown',
};

const OBSERVATION_STATUS: Record<ResultStatus, ObservationStatus> = {
  PRELIMINARY: 'preliminary',
  FINAL: 'final',
  CORRECTED: 'corrected',
  CANCELLED: 'cancelled',
  UNKNOWN: 'unknown',
};

/** An order whose results are final is done; a cancelled one was revoked. */
const SERVICE_REQUEST_STATUS: Record<ResultStatus, ServiceRequest['status']> = {
  PRELIMINARY: 'active',
  FINAL: 'completed',
  CORRECTED: 'completed',
  CANCELLED: 'revoked',
  UNKNOWN: 'unknown',
};

const COMPARATORS = new Set(['<', '<=', '>=', '>']);

function quantity(value: number, unit: CanonicalCoding | null): Quantity {
  const unitCode = nonEmpty(unit?.code);
  return {
    value,
    ...(unitCode
      ? {
          unit: nonEmpty(unit?.display) ?? unitCode,
          system: nonEmpty(unit?.system) ?? UCUM,
          code: unitCode,
        }
      : {}),
  };
}

function finite(value: number | null, field: string): number | null {
  if (value !== null && !Number.isFinite(value)) {
    throw new InvalidLabResultError(`${field} is not a finite number`);
  }
  return value;
}

function observationValue(obs: LabObservation, index: number): Partial<Observation> {
  const where = `observations[${index}] (OBX-${obs.setId})`;
  const value = obs.value;
  const text = value.text ?? undefined;
  switch (value.kind) {
    case 'NUMERIC': {
      const numeric = finite(value.numeric, `${where}.value.numeric`);
      if (numeric === null) return text ? { valueString: text } : absent();
      const comparator = nonEmpty(value.comparator);
      if (comparator !== undefined && comparator !== '=' && !COMPARATORS.has(comparator)) {
        throw new InvalidLabResultError(
          `${where}.value.comparator '${comparator}' is not one of <, <=, >=, >`,
        );
      }
      return {
        valueQuantity: {
          ...quantity(numeric, obs.unit),
          ...(comparator && comparator !== '='
            ? { comparator: comparator as Quantity['comparator'] }
            : {}),
        },
      };
    }
    case 'CODED': {
      const coded = coding(value.coded);
      if (!coded) return text ? { valueString: text } : absent();
      return {
        valueCodeableConcept: {
          coding: [coded],
          ...(coded.display ? { text: coded.display } : {}),
        },
      };
    }
    case 'STRING':
    case 'TEXT':
      // R4 Observation has no markdown value; formatted text (FT) keeps its line breaks.
      return text ? { valueString: text } : absent();
    case 'NONE':
      return absent();
  }
}

function absent(): Partial<Observation> {
  return {
    dataAbsentReason: { coding: [{ system: DATA_ABSENT_REASON, code: 'unknown' }] },
  };
}

function referenceRange(obs: LabObservation, index: number): ReferenceRange[] {
  const low = finite(obs.referenceLow, `observations[${index}].referenceLow`);
  const high = finite(obs.referenceHigh, `observations[${index}].referenceHigh`);
  const text = nonEmpty(obs.referenceRange);
  if (low === null && high === null && !text) return [];
  return [
    {
      ...(low !== null ? { low: quantity(low, obs.unit) } : {}),
      ...(high !== null ? { high: quantity(high, obs.unit) } : {}),
      ...(text ? { text } : {}),
    },
  ];
}

export interface LabResultLinks {
  patientId: string;
  /** The ServiceRequest the report is based on (EHR-sent or created here), if any. */
  serviceRequestId?: string;
}

export interface LabResultResources {
  /** The ServiceRequest this repository keeps for the order (when there is an order number). */
  serviceRequest?: ServiceRequest;
  specimen?: Specimen;
  observations: Observation[];
  report: DiagnosticReport;
}

/** The resources a lab result describes, without `meta` (the writer versions them). */
export function mapLabResult(
  result: LabResult,
  keys: LabResultKeys,
  links: LabResultLinks,
): LabResultResources {
  const subject = reference('Patient', links.patientId);
  const basedOn = links.serviceRequestId
    ? [reference('ServiceRequest', links.serviceRequestId)]
    : undefined;
  const specimenRef = keys.specimenId ? reference('Specimen', keys.specimenId) : undefined;
  const orderCode = concept(result.order.code, result.order.localCode);
  const effective = instant(result.effectiveAt);
  const issued = instant(result.issuedAt);

  let serviceRequest: ServiceRequest | undefined;
  if (keys.serviceRequestId) {
    const priority = requestPriority(result.order.priority);
    const requester = nonEmpty(result.order.orderingProvider);
    serviceRequest = {
      resourceType: 'ServiceRequest',
      id: keys.serviceRequestId,
      identifier: keys.orderIdentifiers,
      status: SERVICE_REQUEST_STATUS[result.status],
      intent: 'order',
      ...(priority ? { priority } : {}),
      code: orderCode,
      subject,
      ...(requester ? { requester: { display: requester } } : {}),
    };
  }

  let specimen: Specimen | undefined;
  if (result.specimen && keys.specimenId) {
    const s = result.specimen;
    const specimenValue = nonEmpty(s.identifier);
    const type = coding(s.type);
    const collected = instant(s.collectedAt);
    const received = instant(s.receivedAt);
    specimen = {
      resourceType: 'Specimen',
      id: keys.specimenId,
      ...(specimenValue
        ? {
            identifier: [
              { system: specimenIdentifierSystem(result.sourceSystem), value: specimenValue },
            ],
          }
        : {}),
      ...(type
        ? { type: { coding: [type], ...(type.display ? { text: type.display } : {}) } }
        : {}),
      subject,
      ...(received ? { receivedTime: received } : {}),
      ...(basedOn ? { request: basedOn } : {}),
      ...(collected ? { collection: { collectedDateTime: collected } } : {}),
    };
  }

  const observations = keys.observations.map(({ id, identifier, line: obs }, i): Observation => {
    const observed = instant(obs.observedAt) ?? effective;
    const interpretation = obs.interpretation
      .map((c) => coding(c))
      .filter((c): c is Coding => c !== undefined)
      .map((c) => ({ coding: [c] }));
    const range = referenceRange(obs, i);
    const obsNotes = notes(obs.notes);
    return {
      resourceType: 'Observation',
      id,
      identifier: [identifier],
      ...(basedOn ? { basedOn } : {}),
      status: OBSERVATION_STATUS[obs.status],
      category: [
        {
          coding: [{ system: OBSERVATION_CATEGORY, code: 'laboratory', display: 'Laboratory' }],
        },
      ],
      code: concept(obs.code, obs.localCode),
      subject,
      ...(observed ? { effectiveDateTime: observed } : {}),
      ...(issued ? { issued } : {}),
      ...observationValue(obs, i),
      ...(interpretation.length > 0 ? { interpretation } : {}),
      ...(obsNotes.length > 0 ? { note: obsNotes } : {}),
      ...(specimenRef ? { specimen: specimenRef } : {}),
      ...(range.length > 0 ? { referenceRange: range } : {}),
    };
  });

  const reportNotes = notes(result.notes);
  const extension: Extension[] = [
    ...resultPriorityExtensions(result.highPriority, result.order.priority),
    ...reportNotes.map((n) => ({ url: REPORT_NOTE_EXTENSION, valueAnnotation: n })),
  ];
  const reportIdentifier: Identifier =
    keys.reportKey.kind === 'EVENT'
      ? { system: keys.reportKey.system, value: keys.reportKey.value }
      : {
          type: identifierType(keys.reportKey.kind),
          system: keys.reportKey.system,
          value: keys.reportKey.value,
        };
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: keys.diagnosticReportId,
    ...(extension.length > 0 ? { extension } : {}),
    identifier: [reportIdentifier],
    ...(basedOn ? { basedOn } : {}),
    status: DIAGNOSTIC_REPORT_STATUS[result.status],
    category: [{ coding: [{ system: V2_0074, code: 'LAB', display: 'Laboratory' }] }],
    code: orderCode,
    subject,
    ...(effective ? { effectiveDateTime: effective } : {}),
    ...(issued ? { issued } : {}),
    ...(specimenRef ? { specimen: [specimenRef] } : {}),
    ...(observations.length > 0
      ? { result: keys.observations.map((o) => reference('Observation', o.id)) }
      : {}),
  };
  return {
    ...(serviceRequest ? { serviceRequest } : {}),
    ...(specimen ? { specimen } : {}),
    observations,
    report,
  };
}

/**
 * The Patient after this result: identifiers merged (a result that lists only the MRN does not
 * drop an identifier another message added), demographics taken from the result where it has
 * them and kept where it has not. A demographic value that cannot be read (a sex code outside
 * table 0001, a malformed birth date) is left out with a warning instead of holding up a lab
 * result, which may be critical, over a field the result does not depend on.
 */
export function patientFromLabResult(
  result: LabResult,
  keys: LabResultKeys,
  id: string,
  existing?: Record<string, unknown>,
): PatientUpdate {
  return patientFromCanonical(result.patient, keys.patientIdentifiers, id, existing);
}
