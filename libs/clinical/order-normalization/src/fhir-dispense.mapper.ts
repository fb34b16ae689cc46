/**
 * FHIR R4 MedicationDispense (POSTed by an API-first pharmacy) → MedicationDispensed, the same
 * event an RDS^O13 gives.
 * @see https://hl7.org/fhir/R4/medicationdispense.html
 */
import {
  dispenseEventId,
  resourceDigest,
  type MedicationDispensed,
  type RawFhirEnvelope,
} from '@ancillary/contracts';
import {
  NormalizationError,
  type NormalizationErrorCode,
  type PatientRef,
  type Visit,
} from '@ancillary/lab-normalization';
import { NDC_SYSTEM, RXNORM_SYSTEM, normalizeNdc, type Terminology } from '@ancillary/terminology';
import { dispenseCodings, type DispenseCoding, type DispenseStatus } from './dispense-codings';

/** What the mapper needs of the gateway's envelope. */
export type FhirEnvelopeSource = Pick<
  RawFhirEnvelope,
  'envelopeId' | 'receivedAt' | 'sourceSystem'
>;

export interface FhirDispenseOptions {
  /**
   * The pharmacy's facility in the terminology (formulary.csv), e.g. `NWH-RX`: FHIR has no
   * MSH-4, so the connection says whose formulary maps the NDC.
   */
  readonly facility: string;
}

/** v2-0203 identifier type of a filler (the pharmacy's) order number. */
const FILLER_TYPE = 'FILL';

/**
 * MedicationDispense.status → the canonical status.
 * @see https://hl7.org/fhir/R4/valueset-medicationdispense-status.html
 */
const STATUS: Readonly<Record<string, DispenseStatus>> = {
  completed: 'COMPLETED',
  'in-progress': 'IN_PROGRESS',
  preparation: 'IN_PROGRESS',
  'on-hold': 'IN_PROGRESS',
  cancelled: 'CANCELLED',
  declined: 'CANCELLED',
  stopped: 'CANCELLED',
  'entered-in-error': 'ENTERED_IN_ERROR',
  unknown: 'UNKNOWN',
};

/** FHIR dateTime (R4): a date, or a date and time with seconds and a zone. */
const FHIR_DATE_TIME =
  /^\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?)?)?$/;

type Json = Record<string, unknown>;

/**
 * Maps a MedicationDispense (the JSON text an envelope carries) to a `MedicationDispensed`.
 *
 * | MedicationDispensed | from |
 * | --- | --- |
 * | `dispenseId` | the first `identifier` value, else the resource `id` |
 * | `eventId` | `dispenseEventId(sourceSystem, dispenseId, resourceDigest(resource))` (meta left out: a resend is the same event) |
 * | `ndc`, `rxnorm`, `localCode` | `medicationCodeableConcept` (or the contained Medication `medicationReference` points to): the NDC coding; RxNorm from the formulary, else the sender's RxNorm coding; another coding as the local code |
 * | `patient` | `subject.identifier`, a contained Patient, or a conditional reference `Patient?identifier=system\|value` |
 * | `placer/fillerOrderNumber` | `authorizingPrescription[].identifier` (type FILL: filler; else placer) |
 * | `quantityValue`, `quantityUnit` | `quantity.value` (required), `quantity.unit` else `quantity.code` |
 * | `daysSupply`, `dispenser` | `daysSupply.value` (whole days); `performer[0].actor` display, identifier or reference |
 * | `dispensedAt` | `whenHandedOver` (required when completed), else `whenPrepared`, else when received |
 * | `status`, `notes` | `status` (required); `note[].text` |
 * | `visit` | `context` when it is an Encounter that says so (see {@link visitOf}); else null |
 *
 * @throws NormalizationError (permanent) with a code (`invalid-json`, `invalid-resource`,
 *   `missing-ndc`, `missing-patient-identifier`, `missing-value`, `invalid-value`,
 *   `unmapped-code`) and a message that names the element: `MedicationDispense.quantity.value: …`.
 */
export function normalizeFhirDispense(
  json: string,
  envelope: FhirEnvelopeSource,
  terminology: Terminology,
  options: FhirDispenseOptions,
): MedicationDispensed {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new NormalizationError(
      'invalid-json',
      `the payload is not JSON (${error instanceof Error ? error.message : String(error)})`,
      {},
      error,
    );
  }
  if (!isObject(parsed) || parsed['resourceType'] !== 'MedicationDispense') {
    const declared = isObject(parsed) ? parsed['resourceType'] : undefined;
    const type =
      typeof declared === 'string' ? declared : isObject(parsed) ? '(none)' : typeof parsed;
    throw new NormalizationError(
      'invalid-resource',
      `expected a MedicationDispense resource, got ${type}`,
    );
  }
  const resource = parsed;
  const status = dispenseStatus(resource);
  const dispenseId =
    firstIdentifierValue(resource['identifier']) ??
    optionalString(resource, 'id', 'MedicationDispense.id');
  if (dispenseId === null) {
    throw fhirError(
      'missing-value',
      'MedicationDispense.identifier',
      'neither an identifier nor an id; the dispense has no identity',
    );
  }
  const orders = orderNumbers(resource['authorizingPrescription']);
  const quantity = objectAt(resource, 'quantity', 'MedicationDispense.quantity');
  const quantityValue = quantity ? quantity['value'] : undefined;
  if (typeof quantityValue !== 'number' || !Number.isFinite(quantityValue) || quantityValue < 0) {
    throw fhirError(
      quantityValue === undefined ? 'missing-value' : 'invalid-value',
      'MedicationDispense.quantity.value',
      quantityValue === undefined ? 'is missing' : 'is not a non-negative number',
    );
  }
  let codings: Pick<MedicationDispensed, 'ndc' | 'localCode' | 'rxnorm'>;
  const product = sentProduct(resource);
  try {
    codings = dispenseCodings(terminology, options.facility, product);
  } catch (error) {
    throw new NormalizationError(
      'unmapped-code',
      `MedicationDispense.medicationCodeableConcept: ${error instanceof Error ? error.message : String(error)}`,
      {},
      error,
    );
  }
  return {
    eventId: dispenseEventId(envelope.sourceSystem, dispenseId, resourceDigest(resource)),
    sourceSystem: envelope.sourceSystem,
    messageControlId: null,
    envelopeId: envelope.envelopeId,
    receivedAt: envelope.receivedAt,
    dispenseId,
    patient: patient(resource),
    placerOrderNumber: orders.placer,
    fillerOrderNumber: orders.filler,
    ...codings,
    quantityValue,
    quantityUnit:
      optionalString(quantity ?? {}, 'unit', 'MedicationDispense.quantity.unit') ??
      optionalString(quantity ?? {}, 'code', 'MedicationDispense.quantity.code'),
    daysSupply: daysSupply(resource),
    dispenser: dispenser(resource),
    dispensedAt: dispensedAt(resource, status, envelope.receivedAt),
    status,
    notes: arrayAt(resource, 'note', 'MedicationDispense.note')
      .map((note) =>
        isObject(note) && typeof note['text'] === 'string' ? note['text'].trim() : '',
      )
      .filter((text) => text !== ''),
    visit: visitOf(resource),
  };
}

function fhirError(code: NormalizationErrorCode, path: string, reason: string): NormalizationError {
  return new NormalizationError(code, `${path}: ${reason}`);
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function objectAt(parent: Json, key: string, path: string): Json | null {
  const value = parent[key];
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw fhirError('invalid-resource', path, 'is not an object');
  return value;
}

function arrayAt(parent: Json, key: string, path: string): unknown[] {
  const value = parent[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw fhirError('invalid-resource', path, 'is not an array');
  return value;
}

/** A string element, trimmed; null when absent or empty. */
function optionalString(parent: Json, key: string, path: string): string | null {
  const value = parent[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw fhirError('invalid-resource', path, 'is not a string');
  const text = value.trim();
  return text === '' ? null : text;
}

function dispenseStatus(resource: Json): DispenseStatus {
  const status = optionalString(resource, 'status', 'MedicationDispense.status');
  if (status === null) {
    throw fhirError('invalid-resource', 'MedicationDispense.status', 'is missing (required, 1..1)');
  }
  const mapped = STATUS[status];
  if (!mapped) {
    throw fhirError(
      'invalid-value',
      'MedicationDispense.status',
      `"${status}" is not a MedicationDispense status (${Object.keys(STATUS).join(', ')})`,
    );
  }
  return mapped;
}

function firstIdentifierValue(identifiers: unknown): string | null {
  if (!Array.isArray(identifiers)) return null;
  for (const identifier of identifiers) {
    if (isObject(identifier) && typeof identifier['value'] === 'string') {
      const value = identifier['value'].trim();
      if (value !== '') return value;
    }
  }
  return null;
}

/** The v2-0203 type code of an Identifier (`MR`, `PLAC`, `FILL`), if any. */
function identifierType(identifier: Json): string | null {
  const type = identifier['type'];
  if (!isObject(type) || !Array.isArray(type['coding'])) return null;
  for (const coding of type['coding']) {
    if (isObject(coding) && typeof coding['code'] === 'string') return coding['code'];
  }
  return null;
}

function orderNumbers(prescriptions: unknown): { placer: string | null; filler: string | null } {
  let placer: string | null = null;
  let filler: string | null = null;
  for (const reference of Array.isArray(prescriptions) ? prescriptions : []) {
    if (!isObject(reference) || !isObject(reference['identifier'])) continue;
    const identifier = reference['identifier'];
    const value = firstIdentifierValue([identifier]);
    if (value === null) continue;
    if (identifierType(identifier) === FILLER_TYPE) filler ??= value;
    else placer ??= value;
  }
  return { placer, filler };
}

/** The contained resource a `#id` reference points to. */
function contained(resource: Json, reference: unknown, resourceType: string): Json | null {
  if (!isObject(reference) || typeof reference['reference'] !== 'string') return null;
  const ref = reference['reference'];
  if (!ref.startsWith('#')) return null;
  const found = arrayAt(resource, 'contained', 'MedicationDispense.contained').find(
    (c) => isObject(c) && c['resourceType'] === resourceType && c['id'] === ref.slice(1),
  );
  return isObject(found) ? found : null;
}

function sentProduct(resource: Json): Parameters<typeof dispenseCodings>[2] {
  const path = 'MedicationDispense.medicationCodeableConcept';
  const concept =
    objectAt(resource, 'medicationCodeableConcept', path) ??
    objectAt(
      contained(resource, resource['medicationReference'], 'Medication') ?? {},
      'code',
      'Medication.code',
    );
  const codings = (concept ? arrayAt(concept, 'coding', `${path}.coding`) : []).filter(isObject);
  const coding = (c: Json): DispenseCoding | null =>
    typeof c['code'] === 'string' && c['code'].trim() !== ''
      ? {
          system: typeof c['system'] === 'string' ? c['system'] : null,
          code: c['code'].trim(),
          display: typeof c['display'] === 'string' ? c['display'] : null,
        }
      : null;
  const all = codings.map(coding).filter((c): c is DispenseCoding => c !== null);
  const ndcCoding = all.find((c) => c.system === NDC_SYSTEM);
  if (!ndcCoding) {
    throw fhirError(
      'missing-ndc',
      path,
      `has no coding of system ${NDC_SYSTEM}; the product dispensed cannot be named`,
    );
  }
  const ndc = normalizeNdc(ndcCoding.code);
  if (ndc === undefined) {
    throw fhirError('invalid-value', `${path}.coding`, `"${ndcCoding.code}" is not an NDC`);
  }
  const rxnorm = all.find((c) => c.system === RXNORM_SYSTEM) ?? null;
  const local = all.find((c) => c !== ndcCoding && c !== rxnorm) ?? null;
  return { ndc, ndcDisplay: ndcCoding.display, local, rxnorm };
}

/** A FHIR Identifier as the canonical one (`type` the first v2-0203 code). */
function canonicalIdentifier(identifier: unknown): PatientRef['identifiers'][number] | null {
  if (!isObject(identifier)) return null;
  const value = firstIdentifierValue([identifier]);
  if (value === null) return null;
  return {
    value,
    system: typeof identifier['system'] === 'string' ? identifier['system'] : null,
    type: identifierType(identifier),
  };
}

/**
 * The patient: `subject.identifier`, else a contained Patient (`subject.reference` `#id`) with
 * its identifiers, name, birth date and gender, else a conditional reference
 * `Patient?identifier=system|value`. A bare `Patient/123` names a resource on the pharmacy's
 * server, which means nothing here, and is refused.
 */
function patient(resource: Json): PatientRef {
  const subject = objectAt(resource, 'subject', 'MedicationDispense.subject');
  const empty: PatientRef = {
    identifiers: [],
    familyName: null,
    givenNames: [],
    birthDate: null,
    administrativeSex: null,
  };
  let ref = empty;
  const own = canonicalIdentifier(subject?.['identifier']);
  const containedPatient = contained(resource, subject, 'Patient');
  if (own) {
    ref = { ...empty, identifiers: [own] };
  } else if (containedPatient) {
    ref = patientOf(containedPatient);
  } else if (typeof subject?.['reference'] === 'string') {
    const match = /^Patient\?identifier=(?:([^|]*)\|)?(.+)$/.exec(subject['reference']);
    if (match?.[2]) {
      const value = decodeURIComponent(match[2]);
      ref = {
        ...empty,
        identifiers: [
          { value, system: match[1] ? decodeURIComponent(match[1]) : null, type: null },
        ],
      };
    }
  }
  if (ref.identifiers.length === 0) {
    throw fhirError(
      'missing-patient-identifier',
      'MedicationDispense.subject',
      'has no patient identifier (subject.identifier, a contained Patient, or Patient?identifier=system|value); the dispense cannot be filed to a patient',
    );
  }
  return ref;
}

/** FHIR administrative gender → HL7 table 0001. */
const SEX: Readonly<Record<string, string>> = { male: 'M', female: 'F', other: 'O', unknown: 'U' };

function patientOf(p: Json): PatientRef {
  const identifiers = arrayAt(p, 'identifier', 'Patient.identifier')
    .map(canonicalIdentifier)
    .filter((i): i is PatientRef['identifiers'][number] => i !== null);
  const names = arrayAt(p, 'name', 'Patient.name').filter(isObject);
  const name = names.find((n) => n['use'] === 'official') ?? names[0];
  const given = name && Array.isArray(name['given']) ? name['given'] : [];
  const birthDate = optionalString(p, 'birthDate', 'Patient.birthDate');
  if (birthDate !== null && !/^\d{4}(?:-\d{2}(?:-\d{2})?)?$/.test(birthDate)) {
    throw fhirError('invalid-value', 'Patient.birthDate', `"${birthDate}" is not a FHIR date`);
  }
  const gender = optionalString(p, 'gender', 'Patient.gender');
  return {
    identifiers,
    familyName: name && typeof name['family'] === 'string' ? name['family'] : null,
    givenNames: given.filter((g): g is string => typeof g === 'string'),
    birthDate,
    administrativeSex: gender === null ? null : (SEX[gender] ?? null),
  };
}

/** v2-0203 identifier type of a visit number (PV1-19). */
const VISIT_NUMBER_TYPE = 'VN';

/** Encounter.class systems whose codes say which table 0004 patient class is meant. */
const V2_PATIENT_CLASS_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0004';
const V3_ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

/**
 * The v2-to-FHIR IG's table 0004 → ActCode map read backwards; only the classes it maps to an
 * ActCode are listed (R, B, C, N, U stay v2-0004 codes there, and are read as such).
 * @see https://hl7.org/fhir/uv/v2mappings/ConceptMap-table-hl70004-to-v3-actcode.html
 */
const PATIENT_CLASS_BY_ACT_CODE: Readonly<Record<string, string>> = {
  EMER: 'E',
  IMP: 'I',
  AMB: 'O',
  PRENC: 'P',
};

/**
 * The visit, from `context` (R4: Reference(Encounter | EpisodeOfCare)), only where the resource
 * says what the v2 fields say — the v2-to-FHIR IG maps PV1-19 to Encounter.identifier (type
 * VN), PID-18 to Account.identifier (Encounter.account), PV1-2 to Encounter.class:
 *
 * - `visitNumber`: the identifier of a contained Encounter (`#id`; type VN first), of a
 *   conditional reference `Encounter?identifier=system|value`, or `context.identifier` when
 *   `context.type` is Encounter (without the type it could as well be an EpisodeOfCare's);
 * - `accountNumber`: the contained Encounter's `account[]`: its identifier, or the identifier
 *   of the contained Account it points to;
 * - `patientClass`: the contained Encounter's `class` when it is a v2-0004 code, or an ActCode
 *   the IG maps a table 0004 class to (EMER, IMP, AMB, PRENC → E, I, O, P); other ActCodes
 *   (ACUTE, HH, VR…) have no single table 0004 class and give null;
 * - `assignedLocation`: always null — Encounter.location points to Location resources, whose
 *   names are not PV1-3's point^room^bed, and a guessed location has no place on a claim.
 *
 * Null when none of these is sent: no `context`, an EpisodeOfCare (not a visit), or a literal
 * reference (`Encounter/123`), which names a resource on the pharmacy's server and means
 * nothing here (as for `subject`).
 * @see https://hl7.org/fhir/R4/medicationdispense-definitions.html#MedicationDispense.context
 * @see https://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-pv1-to-encounter.html
 */
function visitOf(resource: Json): Visit | null {
  const context = objectAt(resource, 'context', 'MedicationDispense.context');
  if (!context) return null;
  const visit: Visit = {
    accountNumber: null,
    visitNumber: null,
    patientClass: null,
    assignedLocation: null,
  };
  const encounter = contained(resource, context, 'Encounter');
  const reference = typeof context['reference'] === 'string' ? context['reference'] : '';
  const conditional = /^Encounter\?identifier=(?:[^|]*\|)?(.+)$/.exec(reference);
  if (encounter) {
    const identifiers = arrayAt(encounter, 'identifier', 'Encounter.identifier').filter(isObject);
    visit.visitNumber = firstIdentifierValue([
      ...identifiers.filter((i) => identifierType(i) === VISIT_NUMBER_TYPE),
      ...identifiers,
    ]);
    visit.accountNumber = accountNumber(resource, encounter);
    visit.patientClass = patientClass(objectAt(encounter, 'class', 'Encounter.class'));
  } else if (conditional?.[1]) {
    visit.visitNumber = uriDecoded(conditional[1], 'MedicationDispense.context.reference');
  } else if (isEncounterType(context['type'])) {
    visit.visitNumber = firstIdentifierValue([context['identifier']]);
  }
  return Object.values(visit).every((value) => value === null) ? null : visit;
}

/** A percent-encoded search value, decoded; a malformed escape is the sender's error. */
function uriDecoded(value: string, path: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw fhirError('invalid-value', path, `"${value}" is not percent-encoded correctly`);
  }
}

/** Reference.type names Encounter: `Encounter` or its canonical URL. */
function isEncounterType(type: unknown): boolean {
  return type === 'Encounter' || type === 'http://hl7.org/fhir/StructureDefinition/Encounter';
}

/** The first account of a contained Encounter with an identifier (its own or its Account's). */
function accountNumber(resource: Json, encounter: Json): string | null {
  for (const account of arrayAt(encounter, 'account', 'Encounter.account').filter(isObject)) {
    const value =
      firstIdentifierValue([account['identifier']]) ??
      firstIdentifierValue(contained(resource, account, 'Account')?.['identifier']);
    if (value !== null) return value;
  }
  return null;
}

/** Encounter.class (a Coding in R4) as a table 0004 code, when it names one. */
function patientClass(coding: Json | null): string | null {
  const code = typeof coding?.['code'] === 'string' ? coding['code'].trim() : '';
  if (code === '') return null;
  if (coding?.['system'] === V2_PATIENT_CLASS_SYSTEM) return code.toUpperCase();
  if (coding?.['system'] === V3_ACT_CODE_SYSTEM) return PATIENT_CLASS_BY_ACT_CODE[code] ?? null;
  return null;
}

function daysSupply(resource: Json): number | null {
  const quantity = objectAt(resource, 'daysSupply', 'MedicationDispense.daysSupply');
  const value = quantity?.['value'];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw fhirError(
      'invalid-value',
      'MedicationDispense.daysSupply.value',
      'is not a whole number of days',
    );
  }
  return value;
}

function dispenser(resource: Json): string | null {
  const performer = arrayAt(resource, 'performer', 'MedicationDispense.performer').find(isObject);
  const actor = performer
    ? objectAt(performer, 'actor', 'MedicationDispense.performer.actor')
    : null;
  if (!actor) return null;
  return (
    optionalString(actor, 'display', 'MedicationDispense.performer.actor.display') ??
    firstIdentifierValue([actor['identifier']]) ??
    optionalString(actor, 'reference', 'MedicationDispense.performer.actor.reference')
  );
}

/**
 * When it was dispensed: `whenHandedOver`, which a completed dispense must have; a dispense
 * still in preparation (or cancelled) has at best `whenPrepared`, else the time it was received.
 */
function dispensedAt(resource: Json, status: DispenseStatus, receivedAt: number): number {
  const handedOver = dateTime(resource, 'whenHandedOver');
  if (handedOver !== null) return handedOver;
  if (status === 'COMPLETED') {
    throw fhirError(
      'missing-value',
      'MedicationDispense.whenHandedOver',
      'is missing; a completed dispense says when it was handed over',
    );
  }
  return dateTime(resource, 'whenPrepared') ?? receivedAt;
}

function dateTime(resource: Json, key: string): number | null {
  const path = `MedicationDispense.${key}`;
  const value = optionalString(resource, key, path);
  if (value === null) return null;
  const ms = FHIR_DATE_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw fhirError('invalid-value', path, `"${value}" is not a FHIR dateTime`);
  }
  return ms;
}
