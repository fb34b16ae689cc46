/**
 * What the simulated billing engine reads from a DFT^P03 (post detail financial transaction,
 * HL7 v2.5 ch. 6.4.3, https://www.hl7.eu/HL7v2x/v25/std25/ch06.html): the patient (PID-3 MRN
 * with its assigning authority, PID-18 account), the visit (PV1-19, PV1-2) and one transaction
 * per FT1. Written here rather than taken from the platform's DFT builder on purpose: the
 * simulator is the billing engine's side of the interface, and it must catch what a builder
 * gets wrong, not share its assumptions.
 *
 * A message the engine cannot post is a `DftReadError` carrying the ACK error (ERR-2 location,
 * ERR-3 table 0357 code) the engine answers with AR: a missing segment (100), a required field
 * missing (101), a value of the wrong type (102), a transaction type it does not post (103).
 *
 * FT1 fields read (v2.5 ch. 6.5.1; positions are the same in v2.3–2.6):
 *
 * | field   | name (data type)                                   | read as                          |
 * | ------- | -------------------------------------------------- | -------------------------------- |
 * | FT1-1   | Set ID (SI)                                        | `setId` (else the FT1's position)|
 * | FT1-2   | Transaction ID (ST), required here                 | `transactionId`                  |
 * | FT1-3   | Transaction Batch ID (ST)                          | `batchId`: the platform puts the |
 * |         |                                                    | FT1-2 a credit reverses here     |
 * | FT1-4   | Transaction Date (DR in 2.5, TS in 2.3), required  | `transactionDate`, `dateOfService`|
 * | FT1-5   | Transaction Posting Date (DTM)                     | `postingDate`                    |
 * | FT1-6   | Transaction Type (IS, table 0017), CG or CD        | `transactionType`                |
 * | FT1-7   | Transaction Code (CE), required: the CDM number    | `chargeCode`, `chargeDescription`|
 * | FT1-10  | Transaction Quantity (NM), default 1, may be < 0   | `quantity`                       |
 * | FT1-11  | Transaction Amount – Extended (CP: MO.1 amount)    | `extendedAmount`                 |
 * | FT1-12  | Transaction Amount – Unit (CP)                     | `unitAmount`                     |
 * | FT1-13  | Department Code (CE)                               | `department`                     |
 * | FT1-19  | Diagnosis Code – FT1 (CE, repeating; ICD-10-CM)     | `diagnoses`                      |
 * | FT1-20  | Performed By Code (XCN)                            | `performedBy` (XCN.1)            |
 * | FT1-21  | Ordered By Code (XCN)                              | `orderedBy` (XCN.1)              |
 * | FT1-23  | Filler Order Number (EI)                           | `fillerOrderNumber`, `…Namespace`|
 * | FT1-25  | Procedure Code (CE; CPT `C4` or HCPCS `HCPCS`)     | `procedureCode`, `…System`       |
 * | FT1-26  | Procedure Code Modifier (CE, repeating)            | `modifiers`                      |
 * | FT1-28  | Medically Necessary Duplicate Procedure Reason     | `duplicateReason`                |
 * |         | (CWE, user table 0476)                             |                                  |
 * | FT1-29  | NDC Code (CE)                                      | `ndc`                            |
 *
 * Amounts are CP, whose first component is MO (quantity & denomination), so `125.00&USD` and
 * a bare `125.00` both read as 125; they are kept to the cent.
 */
import type { AckError, Hl7Message, Hl7Segment } from '@ancillary/hl7-core';

/**
 * FT1-6 values this engine posts (HL7 table 0017): CG charge, CD credit. Payments (PY) and
 * adjustments (AJ) come from the patient-accounting side, never from an ancillary interface.
 */
export const FT1_TRANSACTION_TYPES = ['CG', 'CD'] as const;
export type Ft1TransactionType = (typeof FT1_TRANSACTION_TYPES)[number];

/** One FT1 as read. */
export interface ReceivedFt1 {
  /** FT1-1, else the FT1's position in the message (1-based). */
  readonly setId: number;
  /** Which FT1 of the message it is (1-based): ERR-2.2 of an error about it. */
  readonly occurrence: number;
  /** FT1-2: the sender's id of this transaction, what a credit refers to. */
  readonly transactionId: string;
  /** FT1-3: for a credit, the FT1-2 of the charge it reverses (the platform's convention). */
  readonly batchId: string | null;
  /** FT1-4.1 as sent (a DTM). */
  readonly transactionDate: string;
  /** The date of service: the first 8 digits of FT1-4.1, the day as the sender wrote it. */
  readonly dateOfService: string;
  /** FT1-5 as sent. */
  readonly postingDate: string | null;
  readonly transactionType: Ft1TransactionType;
  /** FT1-7.1: the hospital's charge code (CDM number). */
  readonly chargeCode: string;
  readonly chargeDescription: string | null;
  /** FT1-10; 1 when absent. Negative on a negative-quantity reversal. */
  readonly quantity: number;
  /** FT1-11 MO.1, as signed by the sender; null when absent. */
  readonly extendedAmount: number | null;
  /** FT1-12 MO.1; null when absent. */
  readonly unitAmount: number | null;
  /** FT1-13.1: department / cost centre. */
  readonly department: string | null;
  /** FT1-19.1 of every repetition (ICD-10-CM codes). */
  readonly diagnoses: readonly string[];
  /** FT1-20.1 (XCN id number) of the first repetition. */
  readonly performedBy: string | null;
  /** FT1-21.1 of the first repetition. */
  readonly orderedBy: string | null;
  /** FT1-23.1 (EI entity identifier). */
  readonly fillerOrderNumber: string | null;
  /** FT1-23.2 (EI namespace, the filler application). */
  readonly fillerNamespace: string | null;
  /** FT1-25.1: CPT or HCPCS code; null for an uncoded item. */
  readonly procedureCode: string | null;
  /** FT1-25.3: the coding system as sent (`C4` CPT-4, `HCPCS`…). */
  readonly procedureCodeSystem: string | null;
  /** FT1-26.1 of every repetition (CPT / HCPCS modifiers: 26, TC, LT, 59, 91…). */
  readonly modifiers: readonly string[];
  /** FT1-28.1: why a repeat of the same procedure the same day is medically necessary. */
  readonly duplicateReason: string | null;
  /** FT1-29.1: National Drug Code of a drug charge. */
  readonly ndc: string | null;
}

/** A DFT^P03 as the billing engine reads it. */
export interface ReceivedDft {
  /** MSH-10. */
  readonly controlId: string;
  /** MSH-9.1^MSH-9.2. */
  readonly messageType: string;
  /** MSH-12. */
  readonly version: string;
  /** MSH-3.1 / MSH-4.1. */
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  /** EVN-1 (P03), else MSH-9.2. */
  readonly eventType: string;
  readonly patient: {
    /** PID-3.1 of the repetition typed MR (CX-5), else of the first repetition. */
    readonly mrn: string;
    /** PID-3.4.1 of that repetition (HD namespace, e.g. `NWH`); '' when absent. */
    readonly assigningAuthority: string;
    /** PID-18.1: the patient account the charges post to. */
    readonly accountNumber: string | null;
  };
  readonly visit: {
    /** PV1-19.1. */
    readonly visitNumber: string | null;
    /** PV1-2 (table 0004: I, O, E…). */
    readonly patientClass: string | null;
  };
  readonly transactions: readonly ReceivedFt1[];
}

/** A DFT^P03 the billing engine cannot post; `ackError` is what its AR says. */
export class DftReadError extends Error {
  override readonly name = 'DftReadError';

  constructor(readonly ackError: AckError) {
    super(ackError.text);
  }
}

/**
 * Reads a DFT^P03. Throws DftReadError when it is not one, has no PID or FT1, or an FT1 lacks
 * what a charge needs (FT1-2, FT1-4, FT1-6, FT1-7, an amount) or carries a malformed value.
 */
export function readDftP03(message: Hl7Message): ReceivedDft {
  if (message.messageType !== 'DFT^P03') {
    throw new DftReadError({
      hl7ErrorCode: '200',
      segment: 'MSH',
      field: 9,
      text: `${message.messageType || 'this message type'} is not a DFT^P03`,
    });
  }
  const pid = message.segment('PID');
  if (!pid) {
    throw new DftReadError({ hl7ErrorCode: '100', segment: 'PID', text: 'The DFT has no PID' });
  }
  const patient = patientOf(pid);
  const ft1s = message.segments('FT1');
  if (ft1s.length === 0) {
    throw new DftReadError({
      hl7ErrorCode: '100',
      segment: 'FT1',
      text: 'The DFT carries no FT1 (no financial transaction)',
    });
  }
  const pv1 = message.segment('PV1');
  return {
    controlId: message.controlId,
    messageType: message.messageType,
    version: message.version,
    sendingApplication: message.get('MSH-3') ?? '',
    sendingFacility: message.get('MSH-4') ?? '',
    eventType: valued(message.get('EVN-1')) ?? message.get('MSH-9.2') ?? '',
    patient: { ...patient, accountNumber: valued(pid.get(18)) },
    visit: {
      visitNumber: valued(pv1?.get(19)),
      patientClass: valued(pv1?.get(2)),
    },
    transactions: ft1s.map((ft1, i) => readFt1(ft1, i + 1)),
  };
}

function patientOf(pid: Hl7Segment): { mrn: string; assigningAuthority: string } {
  const reps = Array.from({ length: pid.repetitionCount(3) }, (_, i) => i + 1);
  const rep =
    reps.find((r) => (pid.get(3, r, 5) ?? '').toUpperCase() === 'MR' && valued(pid.get(3, r, 1))) ??
    reps.find((r) => valued(pid.get(3, r, 1)));
  const mrn = rep === undefined ? null : valued(pid.get(3, rep, 1));
  if (rep === undefined || !mrn) {
    throw new DftReadError({
      hl7ErrorCode: '101',
      segment: 'PID',
      field: 3,
      text: 'PID-3 has no patient identifier: charges cannot be posted to an unknown patient',
    });
  }
  return { mrn, assigningAuthority: valued(pid.get(3, rep, 4)) ?? '' };
}

function readFt1(ft1: Hl7Segment, occurrence: number): ReceivedFt1 {
  const fail = (hl7ErrorCode: string, field: number, text: string): never => {
    throw new DftReadError({
      hl7ErrorCode,
      segment: 'FT1',
      segmentIndex: occurrence,
      field,
      text: `FT1 #${occurrence}: ${text}`,
    });
  };
  const transactionId =
    valued(ft1.get(2)) ?? fail('101', 2, 'FT1-2 transaction ID is required to post a charge');
  const transactionDate =
    valued(ft1.get(4, 1, 1, 1)) ?? fail('101', 4, 'FT1-4 transaction date is required');
  const dateOfService = dayOf(transactionDate);
  if (!dateOfService) {
    fail('102', 4, `FT1-4 transaction date "${transactionDate}" is not a date (YYYYMMDD…)`);
  }
  const type = (valued(ft1.get(6)) ?? fail('101', 6, 'FT1-6 transaction type is required'))
    .toUpperCase()
    .trim();
  if (!(FT1_TRANSACTION_TYPES as readonly string[]).includes(type)) {
    fail(
      '103',
      6,
      `FT1-6 transaction type ${type} is not posted by this engine (CG charge, CD credit)`,
    );
  }
  const chargeCode =
    valued(ft1.get(7)) ?? fail('101', 7, 'FT1-7 transaction code (charge code) is required');
  const number = (field: number, name: string): number | null => {
    const text = valued(ft1.get(field, 1, 1, 1));
    if (text === null) return null;
    const value = parseDecimal(text);
    return value ?? fail('102', field, `${name} "${text}" is not a number`);
  };
  const quantity = number(10, 'FT1-10 quantity') ?? 1;
  const extendedAmount = number(11, 'FT1-11 extended amount');
  const unitAmount = number(12, 'FT1-12 unit amount');
  if (extendedAmount === null && unitAmount === null) {
    fail('101', 11, 'no amount: FT1-11 (extended) or FT1-12 (unit) is required');
  }
  const firstOf = (field: number, component = 1): string | null =>
    valued(ft1.get(field, 1, component));
  const everyRepetition = (field: number): string[] =>
    ft1
      .getRepetitions(field)
      .map(valued)
      .filter((v): v is string => v !== null);
  return {
    setId: positiveInt(ft1.get(1)) ?? occurrence,
    occurrence,
    transactionId,
    batchId: valued(ft1.get(3)),
    transactionDate,
    dateOfService: dateOfService ?? '',
    postingDate: valued(ft1.get(5, 1, 1, 1)),
    transactionType: type as Ft1TransactionType,
    chargeCode,
    chargeDescription: firstOf(7, 2),
    quantity,
    extendedAmount: extendedAmount === null ? null : toCents(extendedAmount),
    unitAmount: unitAmount === null ? null : toCents(unitAmount),
    department: firstOf(13),
    diagnoses: everyRepetition(19),
    performedBy: firstOf(20),
    orderedBy: firstOf(21),
    fillerOrderNumber: firstOf(23),
    fillerNamespace: firstOf(23, 2),
    procedureCode: firstOf(25),
    procedureCodeSystem: firstOf(25, 3),
    modifiers: everyRepetition(26),
    duplicateReason: firstOf(28),
    ndc: firstOf(29),
  };
}

/** A value, or null when absent, empty or the HL7 explicit null `""`. */
function valued(value: string | undefined): string | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  return trimmed === '' || trimmed === '""' ? null : trimmed;
}

/** `YYYYMMDD` of a DTM when its first 8 digits are a real calendar day, else null. */
function dayOf(dtm: string): string | null {
  const match = /^(\d{4})(\d{2})(\d{2})/.exec(dtm);
  if (!match) return null;
  const [, y, m, d] = match.map(Number) as [number, number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d
    ? dtm.slice(0, 8)
    : null;
}

/** An HL7 NM: optional sign, digits, optional decimal point (`-1`, `125.00`, `.5`). */
function parseDecimal(text: string): number | null {
  return /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/.test(text) ? Number(text) : null;
}

function positiveInt(text: string | undefined): number | null {
  return text !== undefined && /^\d+$/.test(text) && Number(text) > 0 ? Number(text) : null;
}

/** Rounded to the cent, so sums stay exact when done in cents. */
export function toCents(amount: number): number {
  return Math.round(amount * 100) / 100;
}
