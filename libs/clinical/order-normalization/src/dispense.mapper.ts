/**
 * Pharmacy RDS^O13 → MedicationDispensed: one event per dispense (RXD), NDC as dispensed,
 * RxNorm where the pharmacy's formulary maps the NDC.
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch04a.html#Heading117 RDS^O13
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch04a.html#Heading144 RXD
 */
import { dispenseEventId, type MedicationDispensed } from '@ancillary/contracts';
import { readOrders, type Hl7Message, type Hl7Segment, type OrderGroup } from '@ancillary/hl7-core';
import {
  Hl7MessageReader,
  codedElement,
  fieldValue,
  notesOf,
  optionalValue,
  providerName,
  type Hl7MessageSource,
  type PatientRef,
  type Visit,
} from '@ancillary/lab-normalization';
import {
  normalizeNdc,
  standardCodeSystemUri,
  NDC_SYSTEM,
  type Terminology,
} from '@ancillary/terminology';
import { dispenseCodings, type DispenseStatus } from './dispense-codings';

export interface DispenseNormalizeOptions {
  /** IANA zone of the pharmacy's clock, for HL7 times sent without an offset (default `UTC`). */
  readonly defaultTimeZone?: string;
}

/** Whether an RXD-2 triplet is the NDC: system `NDC` (table 0396), or none and NDC-shaped. */
function isNdcSystem(system: string): boolean {
  return standardCodeSystemUri(system) === NDC_SYSTEM;
}

/**
 * Maps an RDS^O13 to one `MedicationDispensed` per RXD, in message order.
 *
 * | MedicationDispensed | from |
 * | --- | --- |
 * | `dispenseId` | RXD-7 prescription number + `-` + RXD-1 dispense sub-id counter (else ORC-3 filler + `-` + RXD-1); RXD-1 empty counts as 1 |
 * | `eventId` | `dispenseEventId(sourceSystem, dispenseId, payloadDigest)`: a resend maps to the same id, a corrected message to a new one |
 * | `ndc`, `localCode` | RXD-2: the triplet with system `NDC` (or an NDC-shaped code without system), normalised to 11 digits 5-4-2; the other triplet as the local code, else the formulary's |
 * | `rxnorm` | the formulary row of the NDC for MSH-4 (`formularyByNdc`); null when not in the formulary |
 * | `quantityValue`, `quantityUnit` | RXD-4 (required), RXD-5.1 (else RXD-5.2) |
 * | `daysSupply` | TQ1-6 service duration when in days (`30^d`): v2.5.1 RXD has no days-supply field |
 * | `dispenser` | RXD-10 (XCN) |
 * | `dispensedAt` | RXD-3 (required) |
 * | `placer/fillerOrderNumber` | ORC-2 / ORC-3 |
 * | `status` | ORC-5 / ORC-1 (see {@link dispenseStatus}), COMPLETED when neither says otherwise |
 * | `notes` | RXD-9 dispense notes, then the order's NTE-3 |
 * | `visit` | PID-18.1 account, PV1-19.1 visit number, PV1-2 class, PV1-3 location (`Hl7MessageReader.visit`); null when neither PID-18 nor a valued PV1 is sent |
 *
 * @throws NormalizationError (permanent): `missing-ndc`, `missing-value` (RXD-3, RXD-4),
 *   `missing-order-number` (no RXD-7 and no ORC-3), `invalid-value`, `invalid-timestamp`…
 */
export function normalizeDispenseMessage(
  message: Hl7Message,
  source: Hl7MessageSource,
  terminology: Terminology,
  options: DispenseNormalizeOptions = {},
): MedicationDispensed[] {
  const reader = new Hl7MessageReader(message, options.defaultTimeZone ?? 'UTC');
  reader.requireMessageType(['RDS^O13'], 'a pharmacy dispense');
  const facility = reader.requireFacility();
  const rds = reader.groups(readOrders, 'RDS^O13');
  const dispensing = rds.orders.filter((order) => order.rxd);
  if (dispensing.length === 0) {
    throw reader.error(
      'invalid-structure',
      'the message has no RXD segment; an RDS^O13 reports one dispense per RXD',
      message.header,
      undefined,
    );
  }
  const patient = reader.patient(rds.patient?.pid, dispensing[0]?.orc ?? dispensing[0]?.rxd);
  const visit = reader.visit(rds.patient?.pid, rds.patient?.pv1);
  return rds.orders.flatMap((order, orderIndex) => {
    const rxd = order.rxd;
    if (!rxd) return [];
    reader.orderIndex = orderIndex;
    return [dispense(reader, facility, source, terminology, patient, visit, order, rxd)];
  });
}

function dispense(
  reader: Hl7MessageReader,
  facility: string,
  source: Hl7MessageSource,
  terminology: Terminology,
  patient: PatientRef,
  visit: Visit | null,
  order: OrderGroup,
  rxd: Hl7Segment,
): MedicationDispensed {
  const { orc } = order;
  const dispenseId = dispenseIdOf(reader, rxd, orc);
  const { ndc, localCode, rxnorm } = product(reader, facility, terminology, rxd);
  const dispensedAt = reader.timestamp(rxd, 3);
  if (dispensedAt === null) {
    throw reader.error('missing-value', 'RXD-3 (date/time dispensed) is empty', rxd, 3);
  }
  return {
    eventId: dispenseEventId(source.sourceSystem, dispenseId, source.payloadDigest),
    sourceSystem: source.sourceSystem,
    messageControlId: reader.message.controlId,
    envelopeId: source.envelopeId,
    receivedAt: source.receivedAt,
    dispenseId,
    patient,
    placerOrderNumber: optionalValue(orc, 2),
    fillerOrderNumber: optionalValue(orc, 3),
    ndc,
    rxnorm,
    localCode,
    quantityValue: quantity(reader, rxd),
    quantityUnit: optionalValue(rxd, 5, 1, 1) ?? optionalValue(rxd, 5, 1, 2),
    daysSupply: daysSupply(reader, order.timing),
    dispenser: providerName(rxd, 10),
    dispensedAt,
    status: dispenseStatus(fieldValue(orc, 1), fieldValue(orc, 5)),
    notes: [...dispenseNotes(rxd), ...notesOf(order.notes)],
    visit,
  };
}

/** RXD-7 + RXD-1, else ORC-3 + RXD-1: the pharmacy's identity of this dispense. */
function dispenseIdOf(
  reader: Hl7MessageReader,
  rxd: Hl7Segment,
  orc: Hl7Segment | undefined,
): string {
  const counter = fieldValue(rxd, 1) || '1';
  if (!/^\d+$/.test(counter)) {
    throw reader.error(
      'invalid-value',
      `"${counter}" is not a dispense sub-id counter (a whole number)`,
      rxd,
      1,
    );
  }
  const prescription = fieldValue(rxd, 7) || fieldValue(orc, 3);
  if (prescription === '') {
    throw reader.error(
      'missing-order-number',
      'neither a prescription number (RXD-7) nor a filler order number (ORC-3); the dispense has no identity',
      rxd,
      7,
    );
  }
  return `${prescription}-${Number(counter)}`;
}

function product(
  reader: Hl7MessageReader,
  facility: string,
  terminology: Terminology,
  rxd: Hl7Segment,
): Pick<MedicationDispensed, 'ndc' | 'localCode' | 'rxnorm'> {
  const { local, standard } = codedElement(rxd, 2, isNdcSystem);
  // Senders that leave the system out still send an NDC-shaped code (00338-0049-04).
  const sent =
    standard ??
    (local && local.system === '' && normalizeNdc(local.code) !== undefined ? local : null);
  if (!sent) {
    throw reader.error(
      'missing-ndc',
      'RXD-2 (dispense/give code) has no NDC (a code with coding system NDC); the product dispensed cannot be named',
      rxd,
      2,
    );
  }
  const ndc = normalizeNdc(sent.code);
  if (ndc === undefined) {
    throw reader.error(
      'invalid-value',
      `"${sent.code}" is not an NDC (11 digits 5-4-2, or a hyphenated 10-digit 4-4-2, 5-3-2 or 5-4-1)`,
      rxd,
      2,
    );
  }
  const localSent = local === sent ? null : local;
  try {
    return dispenseCodings(terminology, facility, {
      ndc,
      ndcDisplay: sent.display === '' ? null : sent.display,
      local: localSent
        ? {
            system: terminology.codeSystemUri(facility, localSent.system),
            code: localSent.code,
            display: localSent.display === '' ? null : localSent.display,
          }
        : null,
    });
  } catch (error) {
    throw reader.unmapped(error, rxd, 2);
  }
}

function quantity(reader: Hl7MessageReader, rxd: Hl7Segment): number {
  const raw = fieldValue(rxd, 4);
  if (raw === '') {
    throw reader.error('missing-value', 'RXD-4 (actual dispense amount) is empty', rxd, 4);
  }
  const value = Number(raw);
  if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/.test(raw) || value < 0) {
    throw reader.error('invalid-value', `"${raw}" is not a dispense amount (a number)`, rxd, 4);
  }
  return value;
}

/** Units of TQ1-6 (CQ) that mean days: UCUM `d`, ISO+ / ANSI `D`, `DAY(S)`. */
const DAY_UNITS = new Set(['D', 'DAY', 'DAYS']);

/**
 * Days supply: HL7 v2.5.1 has no such field in RXD, so it is read from TQ1-6 (service
 * duration, CQ `30^d`) when given in days; null otherwise.
 */
function daysSupply(reader: Hl7MessageReader, timing: readonly Hl7Segment[]): number | null {
  const tq1 = timing.find((s) => s.name === 'TQ1');
  const value = fieldValue(tq1, 6, 1, 1);
  const unit = fieldValue(tq1, 6, 1, 2, 1).toUpperCase();
  if (!tq1 || value === '' || !DAY_UNITS.has(unit)) return null;
  if (!/^\d+$/.test(value)) {
    throw reader.error('invalid-value', `"${value}" days is not a whole number of days`, tq1, 6);
  }
  return Number(value);
}

/** RXD-9 (ST, repeating): the pharmacist's dispense notes. */
function dispenseNotes(rxd: Hl7Segment): string[] {
  return rxd
    .getRepetitions(9)
    .map((note) => note.trim())
    .filter((note) => note !== '' && note !== '""');
}

/**
 * The dispense status from the ORC of an RDS: ORC-5 (table 0038) when sent — IP/SC/A in
 * progress, CA/DC cancelled, ER entered in error, CM completed — else ORC-1 (table 0119) CA/OC/
 * OD/DC/CR cancelled; anything else is a completed dispense, which is what an RDS reports.
 */
export function dispenseStatus(orderControl: string, orderStatus: string): DispenseStatus {
  switch (orderStatus.toUpperCase()) {
    case 'CM':
      return 'COMPLETED';
    case 'IP':
    case 'SC':
    case 'A':
      return 'IN_PROGRESS';
    case 'CA':
    case 'DC':
      return 'CANCELLED';
    case 'ER':
      return 'ENTERED_IN_ERROR';
    default:
      break;
  }
  return ['CA', 'OC', 'OD', 'DC', 'CR'].includes(orderControl.toUpperCase())
    ? 'CANCELLED'
    : 'COMPLETED';
}
