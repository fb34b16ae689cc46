/**
 * What the simulated pharmacy sends when it dispenses an order:
 *
 * - over MLLP, an RDS^O13 v2.5.1 (HL7 v2.5.1 4A.3.6): PID, ORC (RE, placer echoed, filler the
 *   prescription number), the order's RXE, TQ1 and RXR as received, then RXD — RXD-1 dispense
 *   sub-id 1, RXD-2 the NDC of the formulary row the ordered code maps to, RXD-3 when, RXD-4 the
 *   ordered quantity (RXE-10, else RXO-11), RXD-5 its unit (RXE-11, else RXO-12, else the
 *   formulary's dispense unit), RXD-7 the prescription number, RXD-8 refills remaining (RXE-12),
 *   RXD-10 the dispensing pharmacist — and an RXR;
 *   https://www.hl7.eu/HL7v2x/v251/std251/ch04a.html#Heading120 (RXD)
 * - as FHIR, a MedicationDispense (R4): identifier, NDC + RxNorm codings, subject by MRN
 *   identifier, authorizingPrescription by placer identifier, quantity, daysSupply, performer,
 *   whenHandedOver; https://hl7.org/fhir/R4/medicationdispense.html
 *
 * HL7 v2.5.1 has no days-supply field in RXD, so the RDS carries none; the FHIR dispense does.
 */
import { formatHl7DateTime, Hl7Message } from '@ancillary/hl7-core';
import {
  NDC_SYSTEM,
  RXNORM_SYSTEM,
  UCUM_SYSTEM,
  UnmappedCodeError,
  type FormularyEntry,
  type Terminology,
} from '@ancillary/terminology';
import { distinctRoutes } from './order-answer.builder';
import {
  componentsOf,
  copySegment,
  type ReceivedCoding,
  type ReceivedOrderMessage,
} from './received-order.reader';

export interface Pharmacist {
  readonly id: string;
  readonly familyName: string;
  readonly givenName: string;
}

/** Synthetic dispensing pharmacists (NPI-like ids). */
export const PHARMACISTS: readonly Pharmacist[] = [
  { id: '1650000013', familyName: 'Haddad', givenName: 'Layla' },
  { id: '1650000021', familyName: 'Kowalczyk', givenName: 'Tomasz' },
  { id: '1650000039', familyName: 'Nguyen', givenName: 'Thao' },
];

/**
 * The formulary row an ordered drug maps to, from any of its codings: NDC (any form), RxNorm,
 * or the pharmacy's local code. Undefined when the pharmacy does not stock it.
 */
export function resolveFormularyEntry(
  terminology: Terminology,
  facility: string,
  codings: readonly ReceivedCoding[],
): FormularyEntry | undefined {
  for (const coding of codings) {
    const system = (coding.system ?? '').toUpperCase();
    if (system === 'NDC' || coding.system === NDC_SYSTEM) {
      const entry = terminology.formularyByNdc(facility, coding.code);
      if (entry) return entry;
    } else if (system === 'RXNORM' || system === 'RXN' || coding.system === RXNORM_SYSTEM) {
      try {
        return terminology.formularyByRxnorm(facility, coding.code);
      } catch (error) {
        if (!(error instanceof UnmappedCodeError)) throw error;
      }
    } else {
      const entry = terminology.formulary(facility).find((f) => f.localCode === coding.code);
      if (entry) return entry;
    }
  }
  return undefined;
}

export interface DispenseMessageInput {
  readonly received: ReceivedOrderMessage;
  /** Index of the order in the received message. */
  readonly line: number;
  readonly formulary: FormularyEntry;
  /** ORC-3 and RXD-7. */
  readonly prescriptionNumber: string;
  readonly pharmacist: Pharmacist;
  readonly controlId: string;
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly receivingApplication: string;
  readonly receivingFacility: string;
  readonly now: Date;
}

/** The quantity and unit ordered: RXE-10/11, else RXO-11/12, else 1 of the dispense unit. */
export function orderedQuantity(
  received: ReceivedOrderMessage,
  line: number,
  formulary: FormularyEntry,
): { value: string; unit: string } {
  const group = received.groups[line];
  const value = group?.rxe?.get(10) || group?.rxo?.get(11) || '1';
  const unit = group?.rxe?.get(11) || group?.rxo?.get(12) || formulary.dispenseUnit;
  return { value, unit };
}

/** The RDS^O13 of one dispense (see the module comment). */
export function buildDispenseMessage(input: DispenseMessageInput): Hl7Message {
  const { received, formulary } = input;
  const ordered = received.content.lines[input.line];
  const group = received.groups[input.line];
  if (!ordered || !group) throw new RangeError(`no order ${input.line} in the received message`);
  const message = Hl7Message.create({
    messageType: 'RDS^O13^RDS_O13',
    version: '2.5.1',
    controlId: input.controlId,
    sendingApplication: input.sendingApplication,
    sendingFacility: input.sendingFacility,
    receivingApplication: input.receivingApplication,
    receivingFacility: input.receivingFacility,
    charset: 'UNICODE UTF-8',
    now: input.now,
  });
  if (received.pid) copySegment(message, received.pid);
  if (received.pv1) copySegment(message, received.pv1);
  const now = formatHl7DateTime(input.now);
  const orc = message.addSegment('ORC', [
    'RE',
    [ordered.placerOrderNumber, ordered.placerNamespace],
    [input.prescriptionNumber, input.sendingApplication],
    '',
    'CM',
    '',
    '',
    '',
    now,
  ]);
  const orderedBy = group.orc ? componentsOf(group.orc, 12) : [];
  if (orderedBy.length > 0) orc.set(12, orderedBy);
  // ENCODING group: RXE, TIMING_ENCODED (TQ1), RXR — as the order carried them
  if (group.rxe) copySegment(message, group.rxe);
  for (const tq1 of group.timing) copySegment(message, tq1);
  for (const rxr of distinctRoutes(group)) copySegment(message, rxr);
  const quantity = orderedQuantity(received, input.line, formulary);
  const refills = group.rxe?.get(12) || group.rxo?.get(13) || '';
  message.addSegment('RXD', [
    '1',
    [formulary.ndc, formulary.ndcDisplay, 'NDC'],
    now,
    quantity.value,
    [quantity.unit],
    '',
    input.prescriptionNumber,
    refills,
    '',
    [
      input.pharmacist.id,
      input.pharmacist.familyName,
      input.pharmacist.givenName,
      '',
      '',
      '',
      'PharmD',
    ],
  ]);
  const route = group.routes[0];
  if (route) copySegment(message, route);
  else message.addSegment('RXR', [['PO', 'Oral', 'HL70162']]);
  return message;
}

/** A FHIR MedicationRequest as the simulator reads it (the fields it uses). */
export interface FhirMedicationRequestJson {
  resourceType: 'MedicationRequest';
  id?: string;
  identifier?: FhirIdentifierJson[];
  status?: string;
  priority?: string;
  medicationCodeableConcept?: { coding?: { system?: string; code?: string; display?: string }[] };
  subject?: { reference?: string; identifier?: FhirIdentifierJson; display?: string };
  contained?: { resourceType?: string; id?: string; identifier?: FhirIdentifierJson[] }[];
  dosageInstruction?: {
    timing?: {
      repeat?: { frequency?: number; period?: number; periodUnit?: string };
      code?: { coding?: { system?: string; code?: string }[]; text?: string };
    };
  }[];
  dispenseRequest?: {
    quantity?: { value?: number; unit?: string; code?: string };
    expectedSupplyDuration?: { value?: number; unit?: string; code?: string };
    numberOfRepeatsAllowed?: number;
  };
  [key: string]: unknown;
}

export interface FhirIdentifierJson {
  system?: string;
  value?: string;
  type?: { coding?: { system?: string; code?: string }[]; text?: string };
}

export interface FhirDispenseInput {
  readonly request: FhirMedicationRequestJson;
  readonly formulary: FormularyEntry;
  /** The placer identifier of the request (authorizingPrescription). */
  readonly placer: { readonly system?: string; readonly value: string };
  /** The patient's MRN identifier (subject). */
  readonly patient: { readonly system?: string; readonly value: string };
  readonly dispenseId: string;
  /** Identifier system of dispense ids, e.g. `urn:ancillary:dispense:pharmacy-main`. */
  readonly dispenseSystem: string;
  readonly pharmacist: Pharmacist;
  readonly now: Date;
}

/** The FHIR MedicationDispense of one dispense (see the module comment). */
export function buildFhirMedicationDispense(input: FhirDispenseInput): Record<string, unknown> {
  const { request, formulary } = input;
  const quantityValue = request.dispenseRequest?.quantity?.value ?? 1;
  const quantityUnit =
    request.dispenseRequest?.quantity?.unit ??
    request.dispenseRequest?.quantity?.code ??
    formulary.dispenseUnit;
  const identifier = (id: { readonly system?: string; readonly value: string }) =>
    id.system ? { system: id.system, value: id.value } : { value: id.value };
  return {
    resourceType: 'MedicationDispense',
    identifier: [{ system: input.dispenseSystem, value: input.dispenseId }],
    status: 'completed',
    medicationCodeableConcept: {
      coding: [
        { system: NDC_SYSTEM, code: formulary.ndc, display: formulary.ndcDisplay },
        { system: RXNORM_SYSTEM, code: formulary.rxnormCode, display: formulary.rxnormDisplay },
      ],
      text: formulary.localDisplay,
    },
    subject: { identifier: identifier(input.patient) },
    performer: [
      {
        actor: {
          identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: input.pharmacist.id },
          display: `${input.pharmacist.givenName} ${input.pharmacist.familyName}, PharmD`,
        },
      },
    ],
    authorizingPrescription: [{ identifier: identifier(input.placer) }],
    quantity: { value: quantityValue, unit: quantityUnit },
    daysSupply: {
      value: daysSupplyOf(request, quantityValue),
      unit: 'day',
      system: UCUM_SYSTEM,
      code: 'd',
    },
    whenPrepared: input.now.toISOString(),
    whenHandedOver: input.now.toISOString(),
  };
}

const DAYS_PER_UNIT: Readonly<Record<string, number>> = {
  d: 1,
  day: 1,
  days: 1,
  wk: 7,
  week: 7,
  weeks: 7,
  mo: 30,
  month: 30,
  months: 30,
};

/**
 * Doses a day of the HL7 timing abbreviations (v3 GTSAbbreviation, table 0335) an order's
 * `timing.code` carries.
 */
const DOSES_PER_DAY: Readonly<Record<string, number>> = {
  QD: 1,
  DAILY: 1,
  AM: 1,
  PM: 1,
  QHS: 1,
  BID: 2,
  TID: 3,
  QID: 4,
  QOD: 0.5,
  Q1H: 24,
  Q2H: 12,
  Q3H: 8,
  Q4H: 6,
  Q6H: 4,
  Q8H: 3,
  Q12H: 2,
  Q24H: 1,
};

/**
 * Days supply: the request's expectedSupplyDuration, else the quantity over the doses a day its
 * timing gives (`repeat`, or a `code` such as BID; one dispense unit a dose), else 30 days.
 */
export function daysSupplyOf(request: FhirMedicationRequestJson, quantity: number): number {
  const supply = request.dispenseRequest?.expectedSupplyDuration;
  const unit = (supply?.code ?? supply?.unit ?? 'd').toLowerCase();
  if (supply?.value !== undefined && DAYS_PER_UNIT[unit] !== undefined) {
    return Math.max(1, Math.round(supply.value * DAYS_PER_UNIT[unit]));
  }
  const timing = request.dosageInstruction?.[0]?.timing;
  const abbreviation = (timing?.code?.coding?.[0]?.code ?? timing?.code?.text ?? '')
    .replace(/\s+/g, '')
    .toUpperCase();
  const coded = DOSES_PER_DAY[abbreviation];
  if (coded !== undefined) return Math.max(1, Math.ceil(quantity / coded));
  const repeat = timing?.repeat;
  const hoursPer: Readonly<Record<string, number>> = { h: 1, d: 24, wk: 168 };
  const hours = repeat?.periodUnit ? hoursPer[repeat.periodUnit] : undefined;
  if (repeat?.frequency && repeat.period && hours) {
    const perDay = (repeat.frequency * 24) / (repeat.period * hours);
    if (perDay > 0) return Math.max(1, Math.ceil(quantity / perDay));
  }
  return 30;
}
