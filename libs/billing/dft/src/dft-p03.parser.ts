/**
 * Reads a DFT^P03 back into typed fields: what the end-to-end tests (and anyone checking what a
 * billing engine received) compare with the charge events that were sent.
 *
 * Tolerant on purpose: it reads every version {@link buildDftP03} writes (v2.3 to v2.5.1) and
 * the usual variations of other senders — MSH-9 with or without the structure, no EVN or PV1,
 * `\n` or `\r\n` segment ends, FT1-4 as a TS (v2.3) or a DR (v2.5), amounts with or without the
 * MO currency, a DTM without a UTC offset (read as UTC), an NDC in FT1-29 or (before v2.5) in
 * FT1-25 with coding system `NDC`. An absent or empty field is `null`; only a message that is
 * not a DFT^P03 or has no PID is refused. Judging whether a line is postable is the billing
 * engine's business (the billing simulator has its own strict reader for that).
 */
import { Hl7Message, type Hl7Segment } from '@ancillary/hl7-core';
import { FT1_CHARGE, FT1_CREDIT, type ReversalStyle } from './dft-p03.builder';

/** Not a DFT^P03, or one without a patient. */
export class DftParseError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'DftParseError';
  }
}

export interface ParsedIdentifier {
  /** CX-1. */
  readonly value: string;
  /** CX-4: HD-1 namespace, else HD-2 (an ISO OID as `urn:oid:…`); null when absent. */
  readonly system: string | null;
  /** CX-5, table 0203. */
  readonly type: string | null;
}

export interface ParsedCode {
  readonly code: string;
  readonly display: string | null;
  /** Component 3, the coding system (table 0396: `I10`, `C4`, `HCPCS`, `NDC`, `99CDM`…). */
  readonly system: string | null;
}

export interface ParsedProvider {
  /** XCN-1. */
  readonly id: string | null;
  /** XCN-2.1. */
  readonly familyName: string | null;
  /** XCN-3. */
  readonly givenName: string | null;
}

/** One FT1, typed. Amounts are integer cents, as in the ChargeEvent. */
export interface ParsedFt1 {
  /** FT1-1. */
  readonly setId: number | null;
  /** FT1-2. */
  readonly transactionId: string | null;
  /** FT1-3 as sent; on a reversal built here, the FT1-2 of the charge reversed. */
  readonly batchId: string | null;
  /** FT1-4.1 (DTM) as epoch milliseconds: the date of service. */
  readonly dateOfService: number | null;
  /** FT1-5 as epoch milliseconds: the posting date. */
  readonly postedAt: number | null;
  /** FT1-6 (table 0017) as sent: `CG`, `CD`, … */
  readonly transactionType: string | null;
  /** FT1-7: the charge code with its description and coding system. */
  readonly transactionCode: ParsedCode | null;
  /** FT1-10, signed as sent. */
  readonly quantity: number | null;
  /** FT1-11 (Transaction Amount - Extended) CP MO.1 in cents, signed as sent. */
  readonly extendedAmountCents: number | null;
  /** FT1-12 (Transaction Amount - Unit) CP MO.1 in cents. */
  readonly unitAmountCents: number | null;
  /** FT1-11 MO.2, else FT1-12 MO.2 (ISO 4217). */
  readonly currency: string | null;
  /** FT1-13.1. */
  readonly department: string | null;
  /** FT1-19, every repetition. */
  readonly diagnoses: readonly ParsedCode[];
  /** FT1-20, first repetition. */
  readonly performedBy: ParsedProvider | null;
  /** FT1-21, first repetition. */
  readonly orderedBy: ParsedProvider | null;
  /** FT1-23.1 (EI). */
  readonly fillerOrderNumber: string | null;
  /** FT1-25 when it is a procedure code (CPT `C4`, HCPCS); null when absent or an NDC. */
  readonly procedure: ParsedCode | null;
  /** FT1-26.1 of every repetition. */
  readonly modifiers: readonly string[];
  /** FT1-29.1, else FT1-25.1 when FT1-25's coding system is `NDC` (v2.3/2.4). */
  readonly ndc: string | null;
  /**
   * Set when the line reverses a charge: `credit` for FT1-6 `CD`, `negative-charge` for `CG`
   * with a negative quantity or extended amount; `reversesTransactionId` is FT1-3.
   */
  readonly reversal: {
    readonly style: ReversalStyle;
    readonly reversesTransactionId: string | null;
  } | null;
}

export interface ParsedDftP03 {
  /** MSH-10. */
  readonly controlId: string;
  /** MSH-9.1^MSH-9.2: `DFT^P03`. */
  readonly messageType: string;
  /** MSH-9.3: `DFT_P03` from v2.4, null before. */
  readonly messageStructure: string | null;
  /** MSH-12. */
  readonly version: string;
  /** MSH-3.1 … MSH-6.1. */
  readonly sendingApplication: string | null;
  readonly sendingFacility: string | null;
  readonly receivingApplication: string | null;
  readonly receivingFacility: string | null;
  /** MSH-7 as epoch milliseconds. */
  readonly messageTime: number | null;
  /** EVN-1 (`P03`) and EVN-2 (epoch milliseconds); nulls when there is no EVN. */
  readonly event: { readonly type: string | null; readonly recordedAt: number | null };
  readonly patient: {
    /** PID-3, every repetition with a value. */
    readonly identifiers: readonly ParsedIdentifier[];
    /** PID-5.1. */
    readonly familyName: string | null;
    /** PID-5.2 and PID-5.3, those present. */
    readonly givenNames: readonly string[];
    /** PID-7 as an ISO date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`). */
    readonly birthDate: string | null;
    /** PID-8. */
    readonly administrativeSex: string | null;
    /** PID-18.1. */
    readonly accountNumber: string | null;
  };
  readonly visit: {
    /** PV1-2. */
    readonly patientClass: string | null;
    /** PV1-19.1. */
    readonly visitNumber: string | null;
  };
  /** One per FT1, in message order. */
  readonly lines: readonly ParsedFt1[];
}

/**
 * Parses a DFT^P03 (text, bytes or an already parsed message).
 * @throws DftParseError when it is not a DFT^P03 or has no PID; Hl7ParseError for text that is
 *   not HL7 at all
 */
export function parseDftP03(input: Hl7Message | string | Uint8Array): ParsedDftP03 {
  const message = input instanceof Hl7Message ? input : Hl7Message.parse(input);
  if (message.messageType !== 'DFT^P03') {
    throw new DftParseError(`${message.messageType || 'a message without MSH-9'} is not DFT^P03`);
  }
  const pid = message.segment('PID');
  if (!pid) throw new DftParseError('the DFT^P03 has no PID');
  const evn = message.segment('EVN');
  const pv1 = message.segment('PV1');
  const msh = message.header;
  return {
    controlId: message.controlId,
    messageType: message.messageType,
    messageStructure: valued(message.messageStructure),
    version: message.version,
    sendingApplication: valued(msh.get(3)),
    sendingFacility: valued(msh.get(4)),
    receivingApplication: valued(msh.get(5)),
    receivingFacility: valued(msh.get(6)),
    messageTime: dtmMillis(msh.get(7)),
    event: { type: valued(evn?.get(1)), recordedAt: dtmMillis(evn?.get(2)) },
    patient: {
      identifiers: identifiersOf(pid),
      familyName: valued(pid.get(5, 1, 1)),
      givenNames: [pid.get(5, 1, 2), pid.get(5, 1, 3)]
        .map(valued)
        .filter((v): v is string => v !== null),
      birthDate: isoDate(pid.get(7)),
      administrativeSex: valued(pid.get(8)),
      accountNumber: valued(pid.get(18)),
    },
    visit: { patientClass: valued(pv1?.get(2)), visitNumber: valued(pv1?.get(19)) },
    lines: message.segments('FT1').map(ft1Of),
  };
}

function ft1Of(ft1: Hl7Segment): ParsedFt1 {
  const transactionType = valued(ft1.get(6))?.toUpperCase() ?? null;
  const quantity = decimal(ft1.get(10));
  const extendedAmountCents = cents(ft1.get(11, 1, 1, 1));
  const batchId = valued(ft1.get(3));
  const ft125 = codeOf(ft1, 25, 1);
  const ft125IsNdc = ft125?.system?.toUpperCase() === 'NDC';
  const negative = (quantity ?? 0) < 0 || (extendedAmountCents ?? 0) < 0;
  const style: ReversalStyle | null =
    transactionType === FT1_CREDIT
      ? 'credit'
      : transactionType === FT1_CHARGE && negative
        ? 'negative-charge'
        : null;
  return {
    setId: positiveInt(ft1.get(1)),
    transactionId: valued(ft1.get(2)),
    batchId,
    dateOfService: dtmMillis(ft1.get(4, 1, 1, 1)),
    postedAt: dtmMillis(ft1.get(5, 1, 1, 1)),
    transactionType,
    transactionCode: codeOf(ft1, 7, 1),
    quantity,
    extendedAmountCents,
    unitAmountCents: cents(ft1.get(12, 1, 1, 1)),
    currency: valued(ft1.get(11, 1, 1, 2)) ?? valued(ft1.get(12, 1, 1, 2)),
    department: valued(ft1.get(13)),
    diagnoses: repetitions(ft1, 19)
      .map((r) => codeOf(ft1, 19, r))
      .filter((c): c is ParsedCode => c !== null),
    performedBy: providerOf(ft1, 20),
    orderedBy: providerOf(ft1, 21),
    fillerOrderNumber: valued(ft1.get(23)),
    procedure: ft125IsNdc ? null : ft125,
    modifiers: repetitions(ft1, 26)
      .map((r) => valued(ft1.get(26, r)))
      .filter((v): v is string => v !== null),
    ndc: valued(ft1.get(29)) ?? (ft125IsNdc ? ft125.code : null),
    reversal: style === null ? null : { style, reversesTransactionId: batchId },
  };
}

function repetitions(segment: Hl7Segment, field: number): number[] {
  return Array.from({ length: segment.repetitionCount(field) }, (_, i) => i + 1);
}

function codeOf(segment: Hl7Segment, field: number, repetition: number): ParsedCode | null {
  const code = valued(segment.get(field, repetition, 1));
  if (code === null) return null;
  return {
    code,
    display: valued(segment.get(field, repetition, 2)),
    system: valued(segment.get(field, repetition, 3)),
  };
}

function providerOf(segment: Hl7Segment, field: number): ParsedProvider | null {
  const provider = {
    id: valued(segment.get(field, 1, 1)),
    familyName: valued(segment.get(field, 1, 2)),
    givenName: valued(segment.get(field, 1, 3)),
  };
  return (provider.id ?? provider.familyName ?? provider.givenName) ? provider : null;
}

function identifiersOf(pid: Hl7Segment): ParsedIdentifier[] {
  return repetitions(pid, 3).flatMap((r) => {
    const value = valued(pid.get(3, r, 1));
    if (value === null) return [];
    const namespace = valued(pid.get(3, r, 4, 1));
    const universalId = valued(pid.get(3, r, 4, 2));
    const universalType = valued(pid.get(3, r, 4, 3))?.toUpperCase();
    const system =
      namespace ??
      (universalId !== null && universalType === 'ISO' ? `urn:oid:${universalId}` : universalId);
    return [{ value, system, type: valued(pid.get(3, r, 5)) }];
  });
}

/** A value, or null when absent, empty or the HL7 explicit null `""`. */
function valued(value: string | undefined | null): string | null {
  if (value === undefined || value === null) return null;
  const trimmed = value.trim();
  return trimmed === '' || trimmed === '""' ? null : trimmed;
}

function positiveInt(text: string | undefined): number | null {
  const v = valued(text);
  return v !== null && /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : null;
}

const NM = /^([+-])?(\d*)(?:\.(\d*))?$/;

/** HL7 NM (`-1`, `2.5`, `.5`, `+3`) as a number; null when absent or not a number. */
function decimal(text: string | undefined): number | null {
  const v = valued(text);
  if (v === null) return null;
  const m = NM.exec(v);
  return m && `${m[2] ?? ''}${m[3] ?? ''}` !== '' ? Number(v) : null;
}

/**
 * A money NM in integer cents, computed on the digits (no binary floating point): `42` → 4200,
 * `13.5` → 1350, `-0.455` → -46 (half away from zero on the third decimal).
 */
function cents(text: string | undefined): number | null {
  const v = valued(text);
  if (v === null) return null;
  const m = NM.exec(v);
  if (!m || `${m[2] ?? ''}${m[3] ?? ''}` === '') return null;
  const fraction = (m[3] ?? '').padEnd(3, '0');
  const whole = Number(m[2] || '0') * 100 + Number(fraction.slice(0, 2));
  const rounded = whole + (Number(fraction[2]) >= 5 ? 1 : 0);
  return m[1] === '-' && rounded !== 0 ? -rounded : rounded;
}

const DTM = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$/;

/**
 * An HL7 DTM/TS (`YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`, v2.5 ch. 2A.22) as epoch
 * milliseconds. Without an offset the value is read as UTC: the builder always writes one
 * (`+0000`), and a sender that does not is ambiguous anyway. Null when absent or malformed.
 */
export function dtmMillis(text: string | undefined): number | null {
  const v = valued(text);
  const m = v === null ? null : DTM.exec(v);
  if (!m) return null;
  const n = (i: number, fallback: number): number => (m[i] === undefined ? fallback : Number(m[i]));
  const [year, month, day, hour, minute, second] = [
    n(1, 0),
    n(2, 1),
    n(3, 1),
    n(4, 0),
    n(5, 0),
    n(6, 0),
  ];
  const millis = Math.round(Number(`0.${m[7] ?? '0'}`) * 1000);
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const check = new Date(utc);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23) return null;
  const offset = m[8];
  if (!offset) return utc;
  const sign = offset.startsWith('-') ? -1 : 1;
  const offsetMinutes = Number(offset.slice(1, 3)) * 60 + Number(offset.slice(3, 5));
  return utc - sign * offsetMinutes * 60_000;
}

/** PID-7 (DT/TS) as an ISO date: `19700315` → `1970-03-15`, `197003` → `1970-03`. */
function isoDate(text: string | undefined): string | null {
  const v = valued(text);
  const m = v === null ? null : /^(\d{4})(\d{2})?(\d{2})?/.exec(v);
  if (!m) return null;
  return [m[1], m[2], m[3]].filter((x) => x !== undefined).join('-');
}
