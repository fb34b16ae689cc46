/**
 * The OrderEvent an order version announces (schemas/clinical/order-event.avsc), built from the
 * stored FHIR content of the order and of its patient. Pure functions: the writer decides when
 * an event is due and where it goes (route and rule), this module says what it carries.
 */
import { type OrderEvent, Topics, type TopicDefinition } from '@ancillary/contracts';
import type { JsonObject } from '../content';
import { parseReference } from '../search-parameters';
import {
  ADMINISTRATIVE_SEX,
  CPT_SYSTEM,
  FILLER_ORDER_SYSTEM_PREFIX,
  LOINC_SYSTEM,
  type OrderAction,
  type OrderCategory,
  type OrderLane,
  type OrderResourceType,
  RXNORM_SYSTEM,
  SERVICE_REQUEST_CATEGORIES,
  SNOMED_SYSTEM,
  V2_0487_SYSTEM,
} from './order-codes';

type Json = Record<string, unknown>;
type EventCoding = OrderEvent['code'];

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objects(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function number(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function codings(concept: unknown): Json[] {
  return isObject(concept) ? objects(concept['coding']) : [];
}

function toCoding(coding: Json): EventCoding | null {
  const code = text(coding['code']);
  return code ? { system: text(coding['system']), code, display: text(coding['display']) } : null;
}

/** The department and the coding an order is routed by. */
export interface OrderClassification {
  category: OrderCategory;
  /** The LOINC (lab), CPT (imaging) or RxNorm (pharmacy) coding of what is ordered. */
  coding: EventCoding & { system: string };
}

function codingOf(concept: unknown, system: string): (EventCoding & { system: string }) | null {
  for (const c of codings(concept)) {
    const coding = toCoding(c);
    if (coding && coding.system === system) return { ...coding, system };
  }
  return null;
}

/** The category the order's ServiceRequest.category names (SNOMED CT), if any. */
export function declaredCategory(content: JsonObject): OrderCategory | undefined {
  for (const concept of objects(content['category'])) {
    for (const coding of codings(concept)) {
      if (coding['system'] !== SNOMED_SYSTEM) continue;
      const found = SERVICE_REQUEST_CATEGORIES[String(coding['code'])];
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * What department an order is for and by which coding it is routed: a MedicationRequest is a
 * pharmacy order coded in RxNorm; a ServiceRequest is a laboratory order (LOINC) or an imaging
 * one (CPT) as its category says (SNOMED CT 108252007 / 363679005), or, without that category,
 * as its code says (a LOINC coding first, else a CPT one). Undefined when the order lacks the
 * coding its department needs.
 */
export function classifyOrder(
  resourceType: OrderResourceType,
  content: JsonObject,
): OrderClassification | undefined {
  if (resourceType === 'MedicationRequest') {
    const coding = codingOf(content['medicationCodeableConcept'], RXNORM_SYSTEM);
    return coding ? { category: 'PHARMACY', coding } : undefined;
  }
  const loinc = codingOf(content['code'], LOINC_SYSTEM);
  const cpt = codingOf(content['code'], CPT_SYSTEM);
  switch (declaredCategory(content)) {
    case 'LABORATORY':
      return loinc ? { category: 'LABORATORY', coding: loinc } : undefined;
    case 'IMAGING':
      return cpt ? { category: 'IMAGING', coding: cpt } : undefined;
    case 'PHARMACY':
    case undefined:
      if (loinc) return { category: 'LABORATORY', coding: loinc };
      return cpt ? { category: 'IMAGING', coding: cpt } : undefined;
  }
}

/** The identifier value under a system, or undefined. */
export function identifierValue(content: JsonObject, system: string): string | undefined {
  for (const identifier of objects(content['identifier'])) {
    const value = text(identifier['value']);
    if (identifier['system'] === system && value) return value;
  }
  return undefined;
}

function hasType(identifier: Json, code: string): boolean {
  return codings(identifier['type']).some((c) => c['code'] === code);
}

/** ORC-3 once the ancillary assigned one: a FILL-typed identifier or one under a filler system. */
export function fillerOrderNumber(content: JsonObject): string | null {
  for (const identifier of objects(content['identifier'])) {
    const system = text(identifier['system']) ?? '';
    if (hasType(identifier, 'FILL') || system.startsWith(FILLER_ORDER_SYSTEM_PREFIX)) {
      const value = text(identifier['value']);
      if (value) return value;
    }
  }
  return null;
}

/** Whether an identifier is one the ancillary assigned (its filler number), not the EHR's. */
export function isFillerIdentifier(identifier: unknown): boolean {
  if (!isObject(identifier)) return false;
  const system = text(identifier['system']) ?? '';
  return hasType(identifier, 'FILL') || system.startsWith(FILLER_ORDER_SYSTEM_PREFIX);
}

/**
 * The patient as an order carries it (PID): identifiers (an MR-typed one first), name, birth
 * date and administrative sex (HL7 table 0001).
 */
export function patientRef(patient: JsonObject): OrderEvent['patient'] {
  const identifiers = objects(patient['identifier']).flatMap((i) => {
    const value = text(i['value']);
    if (!value) return [];
    const type = codings(i['type'])
      .map((c) => text(c['code']))
      .find((c) => c !== null);
    return [{ value, system: text(i['system']), type: type ?? null }];
  });
  identifiers.sort((a, b) => Number(b.type === 'MR') - Number(a.type === 'MR'));
  const names = objects(patient['name']);
  const name = names.find((n) => n['use'] === 'official') ?? names[0];
  const given = name && Array.isArray(name['given']) ? name['given'] : [];
  const gender = text(patient['gender']);
  return {
    identifiers,
    familyName: name ? text(name['family']) : null,
    givenNames: given.filter((g): g is string => typeof g === 'string' && g.length > 0),
    birthDate: text(patient['birthDate']),
    administrativeSex: gender ? (ADMINISTRATIVE_SEX[gender] ?? null) : null,
  };
}

/**
 * The Kafka key of a patient's orders: the value of the identifier patientRef puts first (the
 * MRN when the patient has one), so one patient's events stay on one partition, in order.
 */
export function patientKey(patient: OrderEvent['patient']): string | undefined {
  return patient.identifiers[0]?.value;
}

function requester(content: JsonObject): OrderEvent['requester'] {
  const ref = content['requester'];
  if (!isObject(ref)) return null;
  const identifier = isObject(ref['identifier']) ? text(ref['identifier']['value']) : null;
  const reference = text(ref['reference']);
  const fromReference = reference ? (parseReference(reference)?.id ?? null) : null;
  const display = text(ref['display']);
  const id = identifier ?? fromReference;
  if (id === null && display === null) return null;
  return { identifier: id, familyName: null, givenName: null, display };
}

function encounterId(content: JsonObject): string | null {
  const ref = content['encounter'];
  if (!isObject(ref)) return null;
  const reference = text(ref['reference']);
  const parsed = reference ? parseReference(reference) : undefined;
  if (parsed) return parsed.id;
  return isObject(ref['identifier']) ? text(ref['identifier']['value']) : null;
}

function allCodings(concepts: unknown, system?: string): EventCoding[] {
  return objects(concepts).flatMap((concept) =>
    codings(concept).flatMap((c) => {
      const coding = toCoding(c);
      return coding && (system === undefined || coding.system === system) ? [coding] : [];
    }),
  );
}

function days(quantity: unknown): number | null {
  if (!isObject(quantity)) return null;
  const value = number(quantity['value']);
  return value !== null && Number.isInteger(value) ? value : null;
}

function medication(content: JsonObject): OrderEvent['medication'] {
  const dosage = objects(content['dosageInstruction'])[0];
  const dispense = isObject(content['dispenseRequest']) ? content['dispenseRequest'] : undefined;
  const dose = dosage
    ? objects(dosage['doseAndRate'])
        .map((d) => d['doseQuantity'])
        .find(isObject)
    : undefined;
  const route = dosage
    ? codings(dosage['route'])
        .map(toCoding)
        .find((c) => c !== null)
    : null;
  const timing = dosage && isObject(dosage['timing']) ? dosage['timing']['code'] : undefined;
  const frequency =
    codings(timing)
      .map((c) => text(c['code']))
      .find((c) => c !== null) ?? (isObject(timing) ? text(timing['text']) : null);
  const quantity = dispense && isObject(dispense['quantity']) ? dispense['quantity'] : undefined;
  const repeats = dispense ? number(dispense['numberOfRepeatsAllowed']) : null;
  return {
    doseValue: dose ? number(dose['value']) : null,
    doseUnit: dose ? (text(dose['code']) ?? text(dose['unit'])) : null,
    route: route ?? null,
    frequency,
    quantityValue: quantity ? number(quantity['value']) : null,
    quantityUnit: quantity ? (text(quantity['code']) ?? text(quantity['unit'])) : null,
    daysSupply: dispense ? days(dispense['expectedSupplyDuration']) : null,
    refills: repeats !== null && Number.isInteger(repeats) ? repeats : null,
    instructions: dosage ? text(dosage['text']) : null,
  };
}

/** Where an order goes and in which lane, as decided for its NEW event. */
export interface OrderDispatch {
  category: OrderCategory;
  destination: string;
  lane: OrderLane;
}

export interface OrderEventInput {
  action: OrderAction;
  resourceType: OrderResourceType;
  id: string;
  versionId: number;
  /** The stored content of this version of the order. */
  content: JsonObject;
  patientId: string;
  patient: JsonObject;
  dispatch: OrderDispatch;
  /** The coding the order is routed by (see classifyOrder). */
  coding: EventCoding;
  placerSystem: string;
  placerOrderNumber: string;
  /** When the event is written to the outbox. */
  publishedAt: Date;
}

/** `<resourceType>/<id>/_history/<versionId>`: one event per order version, replays included. */
export function orderEventId(resourceType: string, id: string, versionId: number): string {
  return `${resourceType}/${id}/_history/${versionId}`;
}

/** The topic of a lane: STAT orders travel apart so that they overtake routine ones. */
export function orderTopic(lane: OrderLane): TopicDefinition {
  return lane === 'STAT' ? Topics.clinicalOrdersStat : Topics.clinicalOrders;
}

export function buildOrderEvent(input: OrderEventInput): OrderEvent {
  const { content } = input;
  const authoredOn = text(content['authoredOn']);
  const orderedAt = authoredOn ? Date.parse(authoredOn) : Number.NaN;
  return {
    eventId: orderEventId(input.resourceType, input.id, input.versionId),
    action: input.action,
    category: input.dispatch.category,
    destination: input.dispatch.destination,
    lane: input.dispatch.lane,
    priority: text(content['priority']) ?? 'routine',
    resourceType: input.resourceType,
    resourceId: input.id,
    resourceVersion: input.versionId,
    placerOrderNumber: input.placerOrderNumber,
    placerSystem: input.placerSystem,
    fillerOrderNumber: fillerOrderNumber(content),
    patientId: input.patientId,
    patient: patientRef(input.patient),
    encounterId: encounterId(content),
    code: input.coding,
    orderedAt: Number.isFinite(orderedAt) ? orderedAt : input.publishedAt.getTime(),
    publishedAt: input.publishedAt.getTime(),
    requester: requester(content),
    reasons: allCodings(content['reasonCode']),
    specimenTypes:
      input.resourceType === 'ServiceRequest'
        ? allCodings(content['orderDetail'], V2_0487_SYSTEM)
        : [],
    notes: objects(content['note']).flatMap((n) => {
      const note = text(n['text']);
      return note ? [note] : [];
    }),
    medication: input.resourceType === 'MedicationRequest' ? medication(content) : null,
  };
}
