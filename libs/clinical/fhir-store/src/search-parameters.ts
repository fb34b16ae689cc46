/**
 * The search parameters the repository supports, and the index rows each resource version
 * produces for them. One table drives both the writer (what goes into fhir.search_*), the
 * query parser (which names and values are accepted) and the CapabilityStatement (what the
 * API says it supports), so the three cannot disagree.
 * Definitions follow the R4 search parameter registry:
 * https://hl7.org/fhir/R4/searchparameter-registry.html
 */
import { dateRange } from './date-range';
import { FHIR_ID_PATTERN } from './ids';
import { type FhirResourceType, isFhirResourceType } from './fhir.types';

export type SearchParameterType = 'token' | 'reference' | 'date';

export interface SearchParameterDefinition {
  /** The name used in a search URL. */
  name: string;
  type: SearchParameterType;
  /** The `param` value of the index rows it searches (patient searches the subject rows). */
  indexParam: string;
  /** For reference parameters: the resource types it may point to. */
  targets?: readonly FhirResourceType[];
  /** FHIRPath-like description for the CapabilityStatement. */
  documentation: string;
}

export interface TokenEntry {
  param: string;
  /** '' when the coding or identifier has no system. */
  system: string;
  code: string;
}

export interface ReferenceEntry {
  param: string;
  targetType: string;
  targetId: string;
}

export interface DateEntry {
  param: string;
  /** Inclusive; `-infinity` for an open start. */
  low: string;
  /** Exclusive; `infinity` for an open end. */
  high: string;
}

export interface IndexEntries {
  tokens: TokenEntry[];
  references: ReferenceEntry[];
  dates: DateEntry[];
}

type Json = Record<string, unknown>;

const STATUS_SYSTEMS = {
  ServiceRequest: 'http://hl7.org/fhir/request-status',
  Observation: 'http://hl7.org/fhir/observation-status',
  DiagnosticReport: 'http://hl7.org/fhir/diagnostic-report-status',
  MedicationRequest: 'http://hl7.org/fhir/CodeSystem/medicationrequest-status',
  MedicationDispense: 'http://terminology.hl7.org/CodeSystem/medicationdispense-status',
  ImagingStudy: 'http://hl7.org/fhir/imagingstudy-status',
  ChargeItem: 'http://hl7.org/fhir/chargeitem-status',
} as const;

const GENDER_SYSTEM = 'http://hl7.org/fhir/administrative-gender';

const token = (name: string, documentation: string): SearchParameterDefinition => ({
  name,
  type: 'token',
  indexParam: name,
  documentation,
});
const date = (name: string, documentation: string): SearchParameterDefinition => ({
  name,
  type: 'date',
  indexParam: name,
  documentation,
});
const reference = (
  name: string,
  targets: readonly FhirResourceType[],
  documentation: string,
  indexParam = name,
): SearchParameterDefinition => ({
  name,
  type: 'reference',
  indexParam,
  targets,
  documentation,
});

const patient = reference(
  'patient',
  ['Patient'],
  'The subject, when it is a Patient (subject.where(resolve() is Patient))',
  'subject',
);

/** Search parameters per resource type (besides _id and _lastUpdated, which every type has). */
export const SEARCH_PARAMETERS: Readonly<
  Record<FhirResourceType, readonly SearchParameterDefinition[]>
> = {
  Patient: [
    token('identifier', 'A patient identifier (Patient.identifier)'),
    token('gender', 'Administrative gender (Patient.gender)'),
    date('birthdate', 'Date of birth (Patient.birthDate)'),
  ],
  ServiceRequest: [
    token('identifier', 'Placer and filler order numbers (ServiceRequest.identifier)'),
    token('code', 'What is being requested (ServiceRequest.code)'),
    token('status', 'Request status (ServiceRequest.status)'),
    patient,
    reference('subject', ['Patient'], 'Whom the request is for (ServiceRequest.subject)'),
    date('authored', 'When the request was made (ServiceRequest.authoredOn)'),
  ],
  Specimen: [
    token('identifier', 'Specimen identifiers (Specimen.identifier, accessionIdentifier)'),
    token('type', 'Specimen type (Specimen.type)'),
    patient,
    reference('subject', ['Patient'], 'Where the specimen came from (Specimen.subject)'),
    date('collected', 'Collection time (Specimen.collection.collected)'),
  ],
  Observation: [
    token('identifier', 'Observation identifier (Observation.identifier)'),
    token('code', 'LOINC or local code (Observation.code)'),
    token('category', 'Category, e.g. laboratory (Observation.category)'),
    token('status', 'Observation status (Observation.status)'),
    date('date', 'Clinically relevant time (Observation.effective)'),
    patient,
    reference('subject', ['Patient'], 'The subject (Observation.subject)'),
    reference('based-on', ['ServiceRequest'], 'The order fulfilled (Observation.basedOn)'),
    reference('specimen', ['Specimen'], 'The specimen (Observation.specimen)'),
  ],
  DiagnosticReport: [
    token('identifier', 'Filler (or placer) order number (DiagnosticReport.identifier)'),
    token('code', 'LOINC panel or local code (DiagnosticReport.code)'),
    token('category', 'Service category, e.g. LAB (DiagnosticReport.category)'),
    token('status', 'Report status (DiagnosticReport.status)'),
    date('date', 'Clinically relevant time (DiagnosticReport.effective)'),
    date('issued', 'When the report was released (DiagnosticReport.issued)'),
    patient,
    reference('subject', ['Patient'], 'The subject (DiagnosticReport.subject)'),
    reference('result', ['Observation'], 'The observations (DiagnosticReport.result)'),
    reference('based-on', ['ServiceRequest'], 'The order fulfilled (DiagnosticReport.basedOn)'),
    reference('specimen', ['Specimen'], 'The specimens (DiagnosticReport.specimen)'),
  ],
  MedicationRequest: [
    token('identifier', 'Placer and filler order numbers (MedicationRequest.identifier)'),
    token('code', 'The medication, RxNorm (MedicationRequest.medicationCodeableConcept)'),
    token('status', 'Request status (MedicationRequest.status)'),
    patient,
    reference('subject', ['Patient'], 'Whom the request is for (MedicationRequest.subject)'),
    date('authoredon', 'When the request was made (MedicationRequest.authoredOn)'),
  ],
  MedicationDispense: [
    token('identifier', "The pharmacy's dispense identifier (MedicationDispense.identifier)"),
    token('code', 'The product, NDC and RxNorm (MedicationDispense.medicationCodeableConcept)'),
    token('status', 'Dispense status (MedicationDispense.status)'),
    patient,
    reference('subject', ['Patient'], 'Whom the dispense is for (MedicationDispense.subject)'),
    reference(
      'prescription',
      ['MedicationRequest'],
      'The order dispensed (MedicationDispense.authorizingPrescription)',
    ),
    date('whenhandedover', 'When it was handed over (MedicationDispense.whenHandedOver)'),
  ],
  ImagingStudy: [
    token('identifier', 'Study Instance UID and accession number (ImagingStudy.identifier)'),
    token('status', 'Study status (ImagingStudy.status)'),
    patient,
    reference('subject', ['Patient'], 'Whom the study is of (ImagingStudy.subject)'),
    reference('basedon', ['ServiceRequest'], 'The order performed (ImagingStudy.basedOn)'),
    date('started', 'When the study started (ImagingStudy.started)'),
  ],
  ChargeItem: [
    token(
      'identifier',
      'Charge event, FT1-2 transaction id and charge key (ChargeItem.identifier)',
    ),
    token('code', 'Charge master code and CPT/HCPCS (ChargeItem.code)'),
    token(
      'status',
      'Charge status: billable, billed, aborted, entered-in-error (ChargeItem.status)',
    ),
    patient,
    reference('subject', ['Patient'], 'Whom the charge is for (ChargeItem.subject)'),
    reference(
      'service',
      ['MedicationDispense', 'DiagnosticReport', 'ImagingStudy'],
      'The work charged for (ChargeItem.service)',
    ),
    date('occurrence', 'Date of service (ChargeItem.occurrence)'),
    date('entered-date', 'When the charge was decided (ChargeItem.enteredDate)'),
  ],
};

export function searchParameter(
  resourceType: FhirResourceType,
  name: string,
): SearchParameterDefinition | undefined {
  return SEARCH_PARAMETERS[resourceType].find((p) => p.name === name);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objects(value: unknown): Json[] {
  if (Array.isArray(value)) return value.filter(isObject);
  return isObject(value) ? [value] : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function codingTokens(param: string, concepts: unknown): TokenEntry[] {
  const out: TokenEntry[] = [];
  for (const concept of objects(concepts)) {
    for (const coding of objects(concept['coding'])) {
      const code = text(coding['code']);
      if (code) out.push({ param, system: text(coding['system']) ?? '', code });
    }
  }
  return out;
}

function identifierTokens(param: string, identifiers: unknown): TokenEntry[] {
  const out: TokenEntry[] = [];
  for (const identifier of objects(identifiers)) {
    const value = text(identifier['value']);
    if (value) out.push({ param, system: text(identifier['system']) ?? '', code: value });
  }
  return out;
}

function codeToken(param: string, system: string, value: unknown): TokenEntry[] {
  const code = text(value);
  return code ? [{ param, system, code }] : [];
}

/** `Type/id`, `Type/id/_history/n` or an absolute URL ending so; anything else is not indexed. */
const REFERENCE_PATTERN = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

export function parseReference(value: string): { type: string; id: string } | undefined {
  const match = REFERENCE_PATTERN.exec(value);
  if (!match?.[1] || !match[2] || !FHIR_ID_PATTERN.test(match[2])) return undefined;
  return { type: match[1], id: match[2] };
}

function referenceEntries(param: string, references: unknown): ReferenceEntry[] {
  const out: ReferenceEntry[] = [];
  for (const ref of objects(references)) {
    const value = text(ref['reference']);
    const parsed = value ? parseReference(value) : undefined;
    if (parsed) out.push({ param, targetType: parsed.type, targetId: parsed.id });
  }
  return out;
}

function dateEntries(param: string, value: unknown): DateEntry[] {
  const single = text(value);
  if (single) {
    const range = dateRange(single);
    return range ? [{ param, ...range }] : [];
  }
  if (isObject(value)) {
    // A Period: open ends stretch to infinity (https://hl7.org/fhir/R4/search.html#date).
    const start = text(value['start']);
    const end = text(value['end']);
    const low = start ? dateRange(start)?.low : '-infinity';
    const high = end ? dateRange(end)?.high : 'infinity';
    if (low && high && (start || end)) return [{ param, low, high }];
  }
  return [];
}

function unique<T>(entries: T[], key: (e: T) => string): T[] {
  const seen = new Set<string>();
  return entries.filter((e) => {
    const k = key(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * The index rows of one resource version. Reads the content defensively: resources written
 * by other systems may lack fields or carry unexpected shapes, which are simply not indexed.
 */
export function indexEntries(resourceType: string, content: Json): IndexEntries {
  const tokens: TokenEntry[] = [];
  const references: ReferenceEntry[] = [];
  const dates: DateEntry[] = [];
  if (!isFhirResourceType(resourceType)) return { tokens, references, dates };
  switch (resourceType) {
    case 'Patient':
      tokens.push(...identifierTokens('identifier', content['identifier']));
      tokens.push(...codeToken('gender', GENDER_SYSTEM, content['gender']));
      dates.push(...dateEntries('birthdate', content['birthDate']));
      break;
    case 'ServiceRequest':
      tokens.push(...identifierTokens('identifier', content['identifier']));
      tokens.push(...codingTokens('code', content['code']));
      tokens.push(...codeToken('status', STATUS_SYSTEMS.ServiceRequest, content['status']));
      references.push(...referenceEntries('subject', content['subject']));
      dates.push(...dateEntries('authored', content['authoredOn']));
      break;
    case 'Specimen':
      tokens.push(...identifierTokens('identifier', content['identifier']));
      tokens.push(...identifierTokens('identifier', content['accessionIdentifier']));
      tokens.push(...codingTokens('type', content['type']));
      references.push(...referenceEntries('subject', content['subject']));
      if (isObject(content['collection'])) {
        dates.push(...dateEntries('collected', content['collection']['collectedDateTime']));
        dates.push(...dateEntries('collected', content['collection']['collectedPeriod']));
      }
      break;
    case 'Observation':
      tokens.push(...identifierTokens('identifier', content['identifier']));
      tokens.push(...codingTokens('code', content['code']));
      tokens.push(...codingTokens('category', content['category']));
      tokens.push(...codeToken('status', STATUS_SYSTEMS.Observation, content['status']));
      references.push(...referenceEntries('subject', content['subject']));
      references.push(...referenceEntries('based-on', content['basedOn']));
      references.push(...referenceEntries('specimen', content['specimen']));
      dates.push(...dateEntries('date', content['effectiveDateTime']));
      dates.push(...dateEntries('date', content['effectivePeriod']));
      dates.push(...dateEntries('date', content['effectiveInstant']));
      break;
    case 'DiagnosticReport':
      tokens.push(...identifierTokens('identifier', content['identifier']));
      tokens.push(...codingTokens('code', content['code']));
      tokens.push(...codingTokens('category', content['category']));
      tokens.push(...codeToken('status', STATUS_SYSTEMS.DiagnosticReport, content['status']));
      references.push(...referenceEntries('subject', content['subject']));
      references.push(...referenceEntries('result', content['result']));
      references.push(...referenceEntries('based-on', content['basedOn']));
      references.push(...referenceEntries('specimen', content['specimen']));
      dates.push(...dateEntries('date', content['effectiveDateTime']));
      dates.push(...dateEntries('date', content['effectivePeriod']));
      dates.push(...dateEntries('issued', content['issued']));
      break;
    case 'MedicationRequest':
      tokens.push(...identifierTokens('identifier', content['identifier']));
      tokens.push(...codingTokens('code', content['medicationCodeableConcept']));
      tokens.push(...codeToken('status', STATUS_SYSTEMS.MedicationRequest, content['status']));
      references.push(...referenceEntries('subject', content['subject']));
      dates.push(...dateEntries('authoredon', content['authoredOn']));
      break;
    case 'MedicationDispense':
      tokens.push(...identifierTokens('identifier', content['identifier']));
      tokens.push(...codingTokens('code', content['medicationCodeableConcept']));
      tokens.push(...codeToken('status', STATUS_SYSTEMS.MedicationDispense, content['status']));
      references.push(...referenceEntries('subject', content['subject']));
      references.push(...referenceEntries('prescription', content['authorizingPrescription']));
      dates.push(...dateEntries('whenhandedover', content['whenHandedOver']));
      break;
    case 'ImagingStudy':
      tokens.push(...identifierTokens('identifier', content['identifier']));
      tokens.push(...codeToken('status', STATUS_SYSTEMS.ImagingStudy, content['status']));
      references.push(...referenceEntries('subject', content['subject']));
      references.push(...referenceEntries('basedon', content['basedOn']));
      dates.push(...dateEntries('started', content['started']));
      break;
    case 'ChargeItem':
      tokens.push(...identifierTokens('identifier', content['identifier']));
      tokens.push(...codingTokens('code', content['code']));
      tokens.push(...codeToken('status', STATUS_SYSTEMS.ChargeItem, content['status']));
      references.push(...referenceEntries('subject', content['subject']));
      references.push(...referenceEntries('service', content['service']));
      dates.push(...dateEntries('occurrence', content['occurrenceDateTime']));
      dates.push(...dateEntries('entered-date', content['enteredDate']));
      break;
  }
  return {
    tokens: unique(tokens, (t) => `${t.param}\u0000${t.system}\u0000${t.code}`),
    references: unique(references, (r) => `${r.param}\u0000${r.targetType}\u0000${r.targetId}`),
    dates: unique(dates, (d) => `${d.param}\u0000${d.low}\u0000${d.high}`),
  };
}
