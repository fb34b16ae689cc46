import { labResultEventId, type LabResult } from '@ancillary/contracts';
import {
  Hl7ParseError,
  readOruR01,
  type Hl7Message,
  type Hl7Segment,
  type Observation,
  type OrderObservation,
  type OruR01,
  type PatientGroup,
} from '@ancillary/hl7-core';
import {
  LOINC_SYSTEM,
  UCUM_SYSTEM,
  UnmappedCodeError,
  V3_INTERPRETATION_SYSTEM,
  isLoincSystem,
  type LabCodeEntry,
  type OrderableEntry,
  type Terminology,
} from '@ancillary/terminology';
import { assessCritical } from './critical-values';
import { fieldValue, optionalValue } from './hl7-fields';
import {
  Hl7TimestampError,
  assertTimeZone,
  parseHl7Date,
  parseHl7Timestamp,
} from './hl7-timestamp';
import type {
  Coding,
  LabObservation,
  ObservationValue,
  OrderRef,
  PatientIdentifier,
  PatientRef,
  ResultStatus,
  SpecimenRef,
} from './lab-result.types';
import { NormalizationError, type NormalizationErrorLocation } from './normalization.errors';
import {
  ObservationValueError,
  parseReferenceRange,
  readObservationValue,
} from './observation-value';

/** Where a message came from: the gateway's envelope. */
export interface LabMessageSource {
  /** The ancillary connection (LabResult.sourceSystem), e.g. `lab-gateway/NWH-LAB`. */
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

export interface NormalizeOptions {
  /**
   * IANA time zone of the sender's clock, applied to HL7 times sent without an offset
   * (default `UTC`). A per-sender setting: most LIS send local time without an offset.
   */
  readonly defaultTimeZone?: string;
}

/** HL7 table 0123 (OBR-25) / 0085 (OBX-11) result status → the canonical status. */
function resultStatus(code: string): ResultStatus {
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
function priorityOf(code: string): string | null {
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

/** HL7 table 0001 administrative sex (v2.3–v2.8). */
const ADMINISTRATIVE_SEX = new Set(['A', 'F', 'M', 'N', 'O', 'U']);

/**
 * Maps an ORU^R01 to canonical lab results: one `LabResult` per order group (OBR), in message
 * order, `orderIndex` counted from 0 across the whole message and
 * `eventId = labResultEventId(sourceSystem, MSH-10, orderIndex, payloadDigest)`, so mapping the same message
 * again gives the same ids.
 *
 * Codes are mapped with `terminology` for the sending facility MSH-4.1: OBR-4 through the
 * orderables table, OBX-3 through the lab-code table, OBX-6 to UCUM, OBX-8 to v3
 * ObservationInterpretation. The mapping is all or nothing: one OBX that cannot be mapped fails
 * the whole message, because a report published without one of its results would show an
 * incomplete panel in the chart as if it were complete (a FINAL CMP missing its potassium), and
 * a later replay of the fixed message would have to patch a half-written report. The message
 * goes to the dead-letter topic whole, is fixed (sender or terminology), and is replayed whole
 * under the same event ids.
 *
 * @throws NormalizationError (permanent) naming the segment, field, order group, OBX set id
 *   and the reason; for unmapped codes its `cause` is the terminology's UnmappedCodeError.
 * @throws RangeError when `options.defaultTimeZone` is not an IANA time zone (configuration).
 */
export function normalizeLabMessage(
  message: Hl7Message,
  source: LabMessageSource,
  terminology: Terminology,
  options: NormalizeOptions = {},
): LabResult[] {
  const timeZone = options.defaultTimeZone ?? 'UTC';
  assertTimeZone(timeZone);
  return new OruR01Mapper(message, source, terminology, timeZone).map();
}

/** Per-message state of one mapping run: the message, the facility, the tables, the zone. */
class OruR01Mapper {
  private readonly facility: string;
  private orderIndex: number | null = null;
  private setId: number | null = null;

  constructor(
    private readonly message: Hl7Message,
    private readonly source: LabMessageSource,
    private readonly terminology: Terminology,
    private readonly timeZone: string,
  ) {
    this.facility = fieldValue(message.header, 4);
  }

  map(): LabResult[] {
    const msh = this.message.header;
    const type = fieldValue(msh, 9, 1, 1).toUpperCase();
    const event = fieldValue(msh, 9, 1, 2).toUpperCase();
    if (type !== 'ORU' || event !== 'R01') {
      throw this.error(
        'unsupported-message-type',
        `message type ${this.message.messageType || '(empty)'} is not a lab result; expected ORU^R01`,
        msh,
        9,
      );
    }
    if (this.facility === '') {
      throw this.error(
        'missing-sending-facility',
        'MSH-4 (sending facility) is empty; local codes are mapped per facility',
        msh,
        4,
      );
    }
    let oru: OruR01;
    try {
      oru = readOruR01(this.message);
    } catch (error) {
      if (!(error instanceof Hl7ParseError)) throw error;
      throw new NormalizationError(
        'invalid-structure',
        `the segments do not form an ORU^R01: ${error.message}`,
        {
          segment: error.segment ?? null,
          segmentIndex: error.segmentIndex ?? null,
          field: error.field ?? null,
        },
        error,
      );
    }
    const results: LabResult[] = [];
    let orderIndex = 0;
    for (const patientResult of oru.patientResults) {
      const patient = this.patient(patientResult.patient, patientResult.orders[0]?.obr);
      for (const order of patientResult.orders) {
        results.push(this.result(patient, order, orderIndex++));
      }
    }
    return results;
  }

  private patient(group: PatientGroup | undefined, firstObr: Hl7Segment | undefined): PatientRef {
    if (!group) {
      throw this.error(
        'missing-patient-identifier',
        'the result has no PID segment; a result must name its patient',
        firstObr,
        undefined,
      );
    }
    const pid = group.pid;
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
        'PID-3 (patient identifier list) has no identifier; results cannot be filed to a patient',
        pid,
        3,
      );
    }
    const name = this.legalName(pid);
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

  /** PID-5: the repetition with name type L (legal), else the first. */
  private legalName(pid: Hl7Segment): { family: string | null; given: string[] } {
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

  private result(patient: PatientRef, order: OrderObservation, orderIndex: number): LabResult {
    this.orderIndex = orderIndex;
    this.setId = null;
    const { obr, orc } = order;
    const placer = optionalValue(obr, 2) ?? optionalValue(orc, 2);
    const filler = optionalValue(obr, 3) ?? optionalValue(orc, 3);
    if (placer === null && filler === null) {
      throw this.error(
        'missing-order-number',
        'neither a placer (ORC-2/OBR-2) nor a filler (ORC-3/OBR-3) order number; the result cannot be matched to its order',
        obr,
        2,
      );
    }
    const ordered = this.mapCode('orderable', obr, 4);
    const orderRef: OrderRef = {
      placerOrderNumber: placer,
      fillerOrderNumber: filler,
      code: loincCoding(ordered.entry),
      localCode: ordered.local,
      priority: this.priority(order),
      orderingProvider: provider(obr, 16) ?? provider(orc, 12),
    };
    const effectiveAt = this.timestamp(obr, 7);
    const observations = this.observations(order, effectiveAt);
    this.setId = null;
    return {
      eventId: labResultEventId(
        this.source.sourceSystem,
        this.message.controlId,
        orderIndex,
        this.source.payloadDigest,
      ),
      sourceSystem: this.source.sourceSystem,
      messageControlId: this.message.controlId,
      orderIndex,
      envelopeId: this.source.envelopeId,
      receivedAt: this.source.receivedAt,
      patient,
      order: orderRef,
      specimen: this.specimen(order, filler, effectiveAt),
      status: resultStatus(fieldValue(obr, 25)),
      // Set by the order rules (the normalizer applies them), not by the message itself.
      highPriority: false,
      effectiveAt,
      issuedAt: this.timestamp(obr, 22),
      observations,
      notes: notesOf(order.notes),
    };
  }

  /** TQ1-9, else OBR-27.6 (TQ, v2.3–v2.4), else ORC-7.6. */
  private priority(order: OrderObservation): string | null {
    const tq1 = order.timing.find((s) => s.name === 'TQ1');
    const code =
      fieldValue(tq1, 9) || fieldValue(order.obr, 27, 1, 6) || fieldValue(order.orc, 7, 1, 6);
    return code === '' ? null : priorityOf(code);
  }

  /**
   * SPM when present (the first: the schema holds one specimen per result), else OBR-15 /
   * OBR-7 / OBR-14 when any is valued, else null.
   */
  private specimen(
    order: OrderObservation,
    filler: string | null,
    effectiveAt: number | null,
  ): SpecimenRef | null {
    const spm = order.specimens[0]?.spm;
    if (spm) {
      return {
        // SPM-2 EIP: the filler-assigned (laboratory) id, else the placer-assigned one.
        identifier: optionalValue(spm, 2, 1, 2, 1) ?? optionalValue(spm, 2, 1, 1, 1),
        type: this.coding(spm, 4, 1),
        collectedAt: this.timestamp(spm, 17),
        receivedAt: this.timestamp(spm, 18),
      };
    }
    const obr = order.obr;
    const typeCode = fieldValue(obr, 15, 1, 1, 1);
    const receivedAt = this.timestamp(obr, 14);
    if (typeCode === '' && effectiveAt === null && receivedAt === null) return null;
    const typeSystem = fieldValue(obr, 15, 1, 1, 3);
    return {
      identifier: filler,
      type:
        typeCode === ''
          ? null
          : {
              system: this.terminology.codeSystemUri(this.facility, typeSystem),
              code: typeCode,
              display: optionalValue(obr, 15, 1, 1, 2),
            },
      collectedAt: effectiveAt,
      receivedAt,
    };
  }

  private observations(order: OrderObservation, effectiveAt: number | null): LabObservation[] {
    const seen = new Set<number>();
    return order.observations.map((observation, i) => {
      this.setId = null; // not known until OBX-1 is read: errors about OBX-1 must not name the previous one
      const setId = this.observationSetId(observation.obx, i + 1, seen);
      this.setId = setId;
      return this.observation(observation, setId, effectiveAt);
    });
  }

  /** OBX-1, or the position in the order group when OBX-1 is empty; unique per group. */
  private observationSetId(obx: Hl7Segment, position: number, seen: Set<number>): number {
    const raw = fieldValue(obx, 1);
    const setId = raw === '' ? position : Number(raw);
    if (raw !== '' && (!/^\d+$/.test(raw) || setId < 1 || setId > 2_147_483_647)) {
      throw this.error('invalid-value', `set id "${raw}" is not a positive whole number`, obx, 1);
    }
    if (seen.has(setId)) {
      throw this.error(
        'invalid-value',
        `set id ${setId} appears twice in this order group; each OBX needs its own`,
        obx,
        1,
      );
    }
    seen.add(setId);
    return setId;
  }

  private observation(
    { obx, notes }: Observation,
    setId: number,
    effectiveAt: number | null,
  ): LabObservation {
    const mapped = this.mapCode('lab-code', obx, 3);
    let value: ObservationValue;
    try {
      value = readObservationValue(obx, (system) =>
        this.terminology.codeSystemUri(this.facility, system),
      );
    } catch (error) {
      if (!(error instanceof ObservationValueError)) throw error;
      throw this.error('invalid-value', error.message, obx, error.field);
    }
    const unit = this.unit(obx);
    const referenceRange = optionalValue(obx, 7);
    const bounds =
      referenceRange === null ? { low: null, high: null } : parseReferenceRange(referenceRange);
    const interpretation = this.interpretation(obx);
    const observedAt = this.timestamp(obx, 14) ?? effectiveAt;
    const critical = assessCritical(
      { code: loincCoding(mapped.entry), value, unit, interpretation },
      this.terminology,
    );
    if (critical.unitMismatch) {
      throw this.error(
        'unit-mismatch',
        `${mapped.entry.loincCode} (${mapped.entry.loincDisplay}) has critical ranges in ${critical.unitMismatch.rangeUnits.map((u) => u ?? 'no unit').join(', ')} (critical-ranges.csv) but the result is in ${unit?.code ?? 'no unit'}; whether it is critical cannot be decided`,
        obx,
        6,
      );
    }
    return {
      setId,
      code: loincCoding(mapped.entry),
      localCode: mapped.local,
      value,
      unit,
      referenceRange,
      referenceLow: bounds.low,
      referenceHigh: bounds.high,
      interpretation,
      status: resultStatus(fieldValue(obx, 11)),
      observedAt,
      notes: notesOf(notes),
      critical: critical.reasons.length > 0,
    };
  }

  /** OBX-6 (CE: identifier, else text) to UCUM; null when no unit is sent. */
  private unit(obx: Hl7Segment): Coding | null {
    const sent = fieldValue(obx, 6, 1, 1) || fieldValue(obx, 6, 1, 2);
    if (sent === '') return null;
    try {
      const entry = this.terminology.mapUnit(sent);
      return { system: UCUM_SYSTEM, code: entry.ucumUnit, display: entry.ucumUnit };
    } catch (error) {
      throw this.unmapped(error, obx, 6);
    }
  }

  /** OBX-8, every repetition, HL7 table 0078 → v3 ObservationInterpretation. */
  private interpretation(obx: Hl7Segment): Coding[] {
    const codings: Coding[] = [];
    for (let r = 1; r <= obx.repetitionCount(8); r++) {
      const flag = fieldValue(obx, 8, r, 1);
      if (flag === '') continue;
      try {
        const entry = this.terminology.mapFlag(flag);
        codings.push({
          system: V3_INTERPRETATION_SYSTEM,
          code: entry.interpretationCode,
          display: entry.interpretationDisplay,
        });
      } catch (error) {
        throw this.unmapped(error, obx, 8);
      }
    }
    return codings;
  }

  /**
   * Maps a coded element (OBR-4 or OBX-3, CWE with an optional alternate triplet). The local
   * code is the triplet whose system is not LOINC (primary first, then alternate); when only
   * a LOINC is sent, the facility's table must list it. When both are sent, they must agree
   * with the table: a disagreement is a mapping error someone has to look at, not a coin toss.
   */
  private mapCode<K extends 'orderable' | 'lab-code'>(
    kind: K,
    segment: Hl7Segment,
    field: number,
  ): { entry: K extends 'orderable' ? OrderableEntry : LabCodeEntry; local: Coding } {
    const triplet = (first: number): { code: string; display: string; system: string } => ({
      code: fieldValue(segment, field, 1, first),
      display: fieldValue(segment, field, 1, first + 1),
      system: fieldValue(segment, field, 1, first + 2),
    });
    const primary = triplet(1);
    const alternate = triplet(4);
    const isLoinc = (t: { code: string; system: string }): boolean =>
      t.code !== '' && isLoincSystem(t.system);
    const local =
      primary.code !== '' && !isLoinc(primary)
        ? primary
        : alternate.code !== '' && !isLoinc(alternate)
          ? alternate
          : null;
    const loinc = isLoinc(primary) ? primary : isLoinc(alternate) ? alternate : null;
    const sent = local ?? loinc;
    if (!sent) {
      throw this.error(
        'missing-code',
        kind === 'orderable'
          ? 'the ordered test (OBR-4) is empty'
          : 'the observation code (OBX-3) is empty',
        segment,
        field,
      );
    }
    let entry: OrderableEntry | LabCodeEntry;
    try {
      entry =
        kind === 'orderable'
          ? this.terminology.mapOrderable(this.facility, sent.code, sent.system)
          : this.terminology.mapLabCode(this.facility, sent.code, sent.system);
    } catch (error) {
      throw this.unmapped(error, segment, field);
    }
    if (local && loinc && loinc.code !== entry.loincCode) {
      throw this.error(
        'conflicting-code',
        `the sender's LOINC ${loinc.code} disagrees with ${entry.source.file} line ${entry.source.line}, which maps ${local.code} (${this.facility}) to LOINC ${entry.loincCode}`,
        segment,
        field,
      );
    }
    return {
      entry: entry as K extends 'orderable' ? OrderableEntry : LabCodeEntry,
      local: {
        system: this.terminology.codeSystemUri(this.facility, sent.system),
        code: sent.code,
        display: sent.display === '' ? null : sent.display,
      },
    };
  }

  /** A CWE at `field` as sent, with its system as a URI; null when it has no code. */
  private coding(segment: Hl7Segment, field: number, repetition: number): Coding | null {
    const code = fieldValue(segment, field, repetition, 1);
    if (code === '') return null;
    return {
      system: this.terminology.codeSystemUri(
        this.facility,
        fieldValue(segment, field, repetition, 3),
      ),
      code,
      display: optionalValue(segment, field, repetition, 2),
    };
  }

  /** A DTM (or TS/DR component 1) at `field`, epoch ms; null when empty. */
  private timestamp(segment: Hl7Segment | undefined, field: number): number | null {
    const raw = fieldValue(segment, field, 1, 1);
    if (raw === '' || !segment) return null;
    try {
      return parseHl7Timestamp(raw, this.timeZone);
    } catch (error) {
      if (!(error instanceof Hl7TimestampError)) throw error;
      throw this.error('invalid-timestamp', error.message, segment, field);
    }
  }

  private date(raw: string, segment: Hl7Segment, field: number): string {
    try {
      return parseHl7Date(raw);
    } catch (error) {
      if (!(error instanceof Hl7TimestampError)) throw error;
      throw this.error('invalid-timestamp', error.message, segment, field);
    }
  }

  private unmapped(error: unknown, segment: Hl7Segment, field: number): Error {
    if (!(error instanceof UnmappedCodeError))
      return error instanceof Error ? error : new Error(String(error));
    return this.error('unmapped-code', error.message, segment, field, error);
  }

  private error(
    code: NormalizationError['code'],
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

function loincCoding(entry: LabCodeEntry | OrderableEntry): Coding {
  return { system: LOINC_SYSTEM, code: entry.loincCode, display: entry.loincDisplay };
}

/** XCN as a readable name with its id: `HOUSE, GREGORY MD (5678)`; null when empty. */
function provider(segment: Hl7Segment | undefined, field: number): string | null {
  if (!segment) return null;
  const id = fieldValue(segment, field, 1, 1);
  const family = fieldValue(segment, field, 1, 2, 1);
  const given = [fieldValue(segment, field, 1, 3), fieldValue(segment, field, 1, 4)]
    .filter((g) => g !== '')
    .join(' ');
  const suffix = [fieldValue(segment, field, 1, 5), fieldValue(segment, field, 1, 7)]
    .filter((g) => g !== '')
    .join(' ');
  let name = [family, given].filter((p) => p !== '').join(', ');
  if (suffix !== '' && name !== '') name = `${name} ${suffix}`;
  if (name === '') return id === '' ? null : id;
  return id === '' ? name : `${name} (${id})`;
}

/** NTE-3 of each NTE, formatted text rendered (repetitions as lines); empty ones skipped. */
function notesOf(notes: readonly Hl7Segment[]): string[] {
  const out: string[] = [];
  for (const nte of notes) {
    const text = (nte.getText(3) ?? '').trim();
    if (text !== '' && text !== '""') out.push(text);
  }
  return out;
}
