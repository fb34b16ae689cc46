/**
 * What every HL7 v2 → canonical mapper reads the same way — the patient (PID), date/times,
 * priorities, statuses, providers, notes — and the located NormalizationError it raises. The
 * lab mapper and the imaging, dispense and order-status mappers of
 * `@ancillary/order-normalization` share it, so a PID is read one way on every flow.
 */
import { Hl7ParseError, type Hl7Message, type Hl7Segment } from '@ancillary/hl7-core';
import { UnmappedCodeError } from '@ancillary/terminology';
import { fieldValue, optionalValue } from './hl7-fields';
import {
  Hl7TimestampError,
  assertTimeZone,
  parseHl7Date,
  parseHl7Timestamp,
} from './hl7-timestamp';
import type { PatientIdentifier, PatientRef, ResultStatus, Visit } from './lab-result.types';
import {
  NormalizationError,
  type NormalizationErrorCode,
  type NormalizationErrorLocation,
} from './normalization.errors';

/** Where an HL7 message came from: the gateway's envelope. */
export interface Hl7MessageSource {
  /** The ancillary connection (the event's `sourceSystem`), e.g. `lis-main`. */
  readonly sourceSystem: string;
  /** The RawHl7Envelope id, when the message came from one. */
  readonly envelopeId: string | null;
  /** When the gateway received the message, epoch ms. */
  readonly receivedAt: number;
  /**
   * `payloadDigest()` of the message's bytes as received (the envelope payload): part of the
   * event id, so that a reused MSH-10 with other content is a new event, not a replay.
   */
  readonly payloadDigest: string;
}

/** HL7 table 0001 administrative sex (v2.3–v2.8). */
const ADMINISTRATIVE_SEX = new Set(['A', 'F', 'M', 'N', 'O', 'U']);

/**
 * Reads one message: located errors (segment occurrence, order group, OBX set id) and the
 * structures every flow shares. `orderIndex` and `setId` are the mapper's position, set as it
 * walks the message, so that an error names the order group and observation it is in.
 */
export class Hl7MessageReader {
  /** 0-based order group being mapped, or null outside one. */
  orderIndex: number | null = null;
  /** OBX-1 of the observation being mapped, or null outside one. */
  setId: number | null = null;
  /** MSH-4.1: local codes are mapped per sending facility. */
  readonly facility: string;

  /**
   * @param timeZone IANA zone for date/times sent without an offset.
   * @throws RangeError when `timeZone` is not an IANA time zone (configuration, not message).
   */
  constructor(
    readonly message: Hl7Message,
    readonly timeZone: string,
  ) {
    assertTimeZone(timeZone);
    this.facility = fieldValue(message.header, 4);
  }

  /** MSH-9 as `TYPE^EVENT`, upper case (`ORU^R01`). */
  get messageType(): string {
    const msh = this.message.header;
    return `${fieldValue(msh, 9, 1, 1)}^${fieldValue(msh, 9, 1, 2)}`.toUpperCase();
  }

  /** Throws `unsupported-message-type` unless MSH-9 is one of `accepted` (`ORU^R01`…). */
  requireMessageType(accepted: readonly string[], what: string): void {
    if (accepted.includes(this.messageType)) return;
    throw this.error(
      'unsupported-message-type',
      `message type ${this.message.messageType || '(empty)'} is not ${what}; expected ${accepted.join(', ')}`,
      this.message.header,
      9,
    );
  }

  /** Throws `missing-sending-facility` when MSH-4 is empty (codes are mapped per facility). */
  requireFacility(): string {
    if (this.facility !== '') return this.facility;
    throw this.error(
      'missing-sending-facility',
      'MSH-4 (sending facility) is empty; local codes are mapped per facility',
      this.message.header,
      4,
    );
  }

  /**
   * Groups the message with an hl7-core group reader (`readOruR01`, `readOrders`), turning a
   * segment-sequence problem into `invalid-structure` named after `structure` (`ORU^R01`).
   */
  groups<T>(read: (message: Hl7Message) => T, structure: string): T {
    try {
      return read(this.message);
    } catch (error) {
      if (!(error instanceof Hl7ParseError)) throw error;
      throw new NormalizationError(
        'invalid-structure',
        `the segments do not form an ${structure}: ${error.message}`,
        {
          segment: error.segment ?? null,
          segmentIndex: error.segmentIndex ?? null,
          field: error.field ?? null,
        },
        error,
      );
    }
  }

  /**
   * PID → PatientRef: every PID-3 repetition (CX-1, system CX-4.1 else CX-4.2, type CX-5),
   * PID-5 legal name, PID-7 birth date at the precision sent, PID-8 sex (table 0001).
   * @param anchor a segment to name in the error when there is no PID at all.
   * @throws NormalizationError `missing-patient-identifier` without PID or PID-3 value.
   */
  patient(pid: Hl7Segment | undefined, anchor?: Hl7Segment): PatientRef {
    if (!pid) {
      throw this.error(
        'missing-patient-identifier',
        'the message has no PID segment; it must name its patient',
        anchor,
        undefined,
      );
    }
    const identifiers: PatientIdentifier[] = [];
    for (let r = 1; r <= pid.repetitionCount(3); r++) {
      const value = fieldValue(pid, 3, r, 1);
      if (value === '') continue;
      identifiers.push({
        value,
        // CX-4 assigning authority: its namespace id, else its universal id (HD.1, HD.2).
        system: optionalValue(pid, 3, r, 4, 1) ?? optionalValue(pid, 3, r, 4, 2),
        type: optionalValue(pid, 3, r, 5),
      });
    }
    if (identifiers.length === 0) {
      throw this.error(
        'missing-patient-identifier',
        'PID-3 (patient identifier list) has no identifier; the message cannot be filed to a patient',
        pid,
        3,
      );
    }
    const name = legalName(pid);
    const birth = fieldValue(pid, 7);
    const sex = fieldValue(pid, 8).toUpperCase();
    if (sex !== '' && !ADMINISTRATIVE_SEX.has(sex)) {
      throw this.error(
        'invalid-value',
        `"${fieldValue(pid, 8)}" is not an HL7 table 0001 administrative sex (A, F, M, N, O, U)`,
        pid,
        8,
      );
    }
    return {
      identifiers,
      familyName: name.family,
      givenNames: name.given,
      birthDate: birth === '' ? null : this.date(birth, pid, 7),
      administrativeSex: sex === '' ? null : sex,
    };
  }

  /**
   * PID-18 and PV1 → Visit, what billing posts a charge against (DFT^P03 PID-18, PV1-2,
   * PV1-19): the account number PID-18.1 (CX-1), the visit number PV1-19.1 (CX-1), the patient
   * class PV1-2 (table 0004) and the assigned location PV1-3 as `point^room^bed` (PL-1..3,
   * trailing empty components left out; PL-4 names the facility, not where the patient is).
   * Values are decoded like every other field (`\T\` → `&`) and the HL7 explicit null `""`
   * counts as not sent.
   *
   * Null when none of them is sent: no PID-18 and no PV1, or a PV1 with nothing but its set id
   * (`PV1|1`, which many result senders include) — a record of nulls would say no more.
   * Table 0004 is user-defined in v2.5.1 (sites add their own classes), so the class is upper-
   * cased but not checked against a list, unlike PID-8.
   * @see https://www.hl7.eu/HL7v2x/v251/std251/ch03.html §3.4.2 PID, §3.4.3 PV1
   */
  visit(pid: Hl7Segment | undefined, pv1: Hl7Segment | undefined): Visit | null {
    const location = [1, 2, 3].map((component) => fieldValue(pv1, 3, 1, component, 1));
    while (location.length > 0 && location.at(-1) === '') location.pop();
    const patientClass = fieldValue(pv1, 2).toUpperCase();
    const visit: Visit = {
      accountNumber: optionalValue(pid, 18),
      visitNumber: optionalValue(pv1, 19),
      patientClass: patientClass === '' ? null : patientClass,
      assignedLocation: location.length === 0 ? null : location.join('^'),
    };
    return Object.values(visit).every((value) => value === null) ? null : visit;
  }

  /**
   * The placer and filler order numbers (EI-1 of field 2 and 3) of `first`, else of `second`
   * (OBR then ORC for results, ORC then OBR for order messages).
   * @throws NormalizationError `missing-order-number` when neither is sent: nothing could be
   *   matched to its order.
   */
  orderNumbers(
    first: Hl7Segment,
    second: Hl7Segment | undefined,
  ): { placer: string | null; filler: string | null } {
    const placer = optionalValue(first, 2) ?? optionalValue(second, 2);
    const filler = optionalValue(first, 3) ?? optionalValue(second, 3);
    if (placer === null && filler === null) {
      const other = first.name === 'OBR' ? 'ORC' : 'OBR';
      throw this.error(
        'missing-order-number',
        `neither a placer (${first.name}-2/${other}-2) nor a filler (${first.name}-3/${other}-3) order number; it cannot be matched to its order`,
        first,
        2,
      );
    }
    return { placer, filler };
  }

  /** A DTM (or TS/DR component 1) at `field`, epoch ms; null when empty. */
  timestamp(segment: Hl7Segment | undefined, field: number): number | null {
    const raw = fieldValue(segment, field, 1, 1);
    if (raw === '' || !segment) return null;
    try {
      return parseHl7Timestamp(raw, this.timeZone);
    } catch (error) {
      if (!(error instanceof Hl7TimestampError)) throw error;
      throw this.error('invalid-timestamp', error.message, segment, field);
    }
  }

  /** An HL7 date as ISO 8601 at the precision sent. */
  date(raw: string, segment: Hl7Segment, field: number): string {
    try {
      return parseHl7Date(raw);
    } catch (error) {
      if (!(error instanceof Hl7TimestampError)) throw error;
      throw this.error('invalid-timestamp', error.message, segment, field);
    }
  }

  /** The terminology's UnmappedCodeError as a located `unmapped-code`; anything else as is. */
  unmapped(error: unknown, segment: Hl7Segment, field: number): Error {
    if (!(error instanceof UnmappedCodeError))
      return error instanceof Error ? error : new Error(String(error));
    return this.error('unmapped-code', error.message, segment, field, error);
  }

  /** A NormalizationError located at `segment`-`field` in the current order group / OBX. */
  error(
    code: NormalizationErrorCode,
    reason: string,
    segment: Hl7Segment | undefined,
    field: number | undefined,
    cause?: unknown,
  ): NormalizationError {
    const location: Partial<NormalizationErrorLocation> = {
      segment: segment?.name ?? null,
      segmentIndex: segment ? this.message.occurrenceOf(segment) : null,
      field: field ?? null,
      orderIndex: segment?.name === 'MSH' || segment?.name === 'PID' ? null : this.orderIndex,
      setId: segment?.name === 'OBX' ? this.setId : null,
    };
    return new NormalizationError(code, reason, location, cause);
  }
}

/** PID-5: the repetition with name type L (legal), else the first. */
function legalName(pid: Hl7Segment): { family: string | null; given: string[] } {
  const count = pid.repetitionCount(5);
  let rep = 1;
  for (let r = 1; r <= count; r++) {
    if (fieldValue(pid, 5, r, 7).toUpperCase() === 'L') {
      rep = r;
      break;
    }
  }
  const given = [fieldValue(pid, 5, rep, 2), fieldValue(pid, 5, rep, 3)].filter((g) => g !== '');
  return { family: optionalValue(pid, 5, rep, 1, 1), given };
}

/** One code triplet of a CE/CWE as sent (decoded, trimmed; '' when absent). */
export interface SentCode {
  readonly code: string;
  readonly display: string;
  /** The HL7 v2 coding-system name as sent (`L`, `LN`, `C4`, `NDC`…). */
  readonly system: string;
}

/**
 * The two triplets of a CE/CWE (identifier and alternate identifier) sorted into the local code
 * and the standard one, whichever order the sender put them in: `standard` is the first triplet
 * whose system `isStandard` accepts (LOINC for lab, CPT for imaging, NDC for pharmacy),
 * `local` the first other triplet with a code. Either is null when not sent.
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch02a.html#Heading58 CWE
 */
export function codedElement(
  segment: Hl7Segment,
  field: number,
  isStandard: (system: string) => boolean,
): { local: SentCode | null; standard: SentCode | null } {
  const triplet = (first: number): SentCode => ({
    code: fieldValue(segment, field, 1, first),
    display: fieldValue(segment, field, 1, first + 1),
    system: fieldValue(segment, field, 1, first + 2),
  });
  const sent = [triplet(1), triplet(4)].filter((t) => t.code !== '');
  return {
    local: sent.find((t) => !isStandard(t.system)) ?? null,
    standard: sent.find((t) => isStandard(t.system)) ?? null,
  };
}

/** HL7 table 0123 (OBR-25) / 0085 (OBX-11) result status → the canonical status. */
export function resultStatus(code: string): ResultStatus {
  switch (code.toUpperCase()) {
    case 'P':
      return 'PRELIMINARY';
    case 'F':
      return 'FINAL';
    case 'C':
      return 'CORRECTED';
    case 'X':
      return 'CANCELLED';
    default:
      return 'UNKNOWN';
  }
}

/**
 * HL7 table 0027 priority → FHIR request-priority. Only the codes with a clear meaning are
 * mapped (S stat, A ASAP → urgent, R routine); others (P pre-op, C callback, T timing
 * critical…) say when rather than how urgent, and give null rather than a guess.
 */
export function priorityOf(code: string): string | null {
  switch (code.toUpperCase()) {
    case 'S':
      return 'stat';
    case 'A':
      return 'urgent';
    case 'R':
      return 'routine';
    default:
      return null;
  }
}

/** The segments an order's priority can be sent in. */
export interface PrioritySegments {
  readonly obr?: Hl7Segment | undefined;
  readonly orc?: Hl7Segment | undefined;
  readonly timing: readonly Hl7Segment[];
}

/**
 * The order's priority: TQ1-9 (v2.5+), else OBR-27.6, else ORC-7.6 (TQ, v2.3–v2.4), through
 * {@link priorityOf}; null when none is sent or the code has no clear urgency.
 */
export function orderPriority(order: PrioritySegments): string | null {
  const tq1 = order.timing.find((s) => s.name === 'TQ1');
  const code =
    fieldValue(tq1, 9) || fieldValue(order.obr, 27, 1, 6) || fieldValue(order.orc, 7, 1, 6);
  return code === '' ? null : priorityOf(code);
}

/** XCN as a readable name with its id: `HOUSE, GREGORY MD (5678)`; null when empty. */
export function providerName(segment: Hl7Segment | undefined, field: number): string | null {
  if (!segment) return null;
  const part = (component: number): string => fieldValue(segment, field, 1, component);
  return personName(part);
}

/**
 * A person as `FAMILY, GIVEN MIDDLE SUFFIX DEGREE (id)` from XCN-shaped parts (1 id, 2 family,
 * 3 given, 4 middle, 5 suffix, 7 degree); `part` reads one of them (a component of an XCN, a
 * subcomponent of an NDL's CNN). Null when every part is empty.
 */
export function personName(part: (position: number) => string): string | null {
  const id = part(1);
  const family = part(2);
  const given = [part(3), part(4)].filter((g) => g !== '').join(' ');
  const suffix = [part(5), part(7)].filter((g) => g !== '').join(' ');
  let name = [family, given].filter((p) => p !== '').join(', ');
  if (suffix !== '' && name !== '') name = `${name} ${suffix}`;
  if (name === '') return id === '' ? null : id;
  return id === '' ? name : `${name} (${id})`;
}

/** NTE-3 of each NTE, formatted text rendered (repetitions as lines); empty ones skipped. */
export function notesOf(notes: readonly Hl7Segment[]): string[] {
  const out: string[] = [];
  for (const nte of notes) {
    const text = (nte.getText(3) ?? '').trim();
    if (text !== '' && text !== '""') out.push(text);
  }
  return out;
}
