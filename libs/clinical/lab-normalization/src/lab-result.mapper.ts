import { labResultEventId, type LabResult } from '@ancillary/contracts';
import {
  readOruR01,
  type Hl7Message,
  type Hl7Segment,
  type Observation,
  type OrderObservation,
} from '@ancillary/hl7-core';
import {
  LOINC_SYSTEM,
  UCUM_SYSTEM,
  V3_INTERPRETATION_SYSTEM,
  isLoincSystem,
  type LabCodeEntry,
  type OrderableEntry,
  type Terminology,
} from '@ancillary/terminology';
import { assessCritical } from './critical-values';
import { fieldValue, optionalValue } from './hl7-fields';
import {
  Hl7MessageReader,
  codedElement,
  notesOf,
  orderPriority,
  providerName,
  resultStatus,
  type Hl7MessageSource,
} from './hl7-message.reader';
import type {
  Coding,
  LabObservation,
  ObservationValue,
  OrderRef,
  PatientRef,
  SpecimenRef,
  Visit,
} from './lab-result.types';
import {
  ObservationValueError,
  parseReferenceRange,
  readObservationValue,
} from './observation-value';

/** Where a message came from: the gateway's envelope (the same for every HL7 flow). */
export type LabMessageSource = Hl7MessageSource;

export interface NormalizeOptions {
  /**
   * IANA time zone of the sender's clock, applied to HL7 times sent without an offset
   * (default `UTC`). A per-sender setting: most LIS send local time without an offset.
   */
  readonly defaultTimeZone?: string;
}

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
 * Each result carries the patient (PID) and the visit (PID-18 account, PV1 — see
 * {@link Hl7MessageReader.visit}) of its patient group; `visit` is null when neither is sent.
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
  const reader = new Hl7MessageReader(message, options.defaultTimeZone ?? 'UTC');
  return new OruR01Mapper(reader, source, terminology).map();
}

/** Per-message state of one mapping run: the message reader (facility, zone), the tables. */
class OruR01Mapper {
  private readonly message: Hl7Message;
  private readonly facility: string;

  constructor(
    private readonly reader: Hl7MessageReader,
    private readonly source: LabMessageSource,
    private readonly terminology: Terminology,
  ) {
    this.message = reader.message;
    this.facility = reader.facility;
  }

  map(): LabResult[] {
    this.reader.requireMessageType(['ORU^R01'], 'a lab result');
    this.reader.requireFacility();
    const oru = this.reader.groups(readOruR01, 'ORU^R01');
    const results: LabResult[] = [];
    let orderIndex = 0;
    for (const patientResult of oru.patientResults) {
      const patient = this.reader.patient(patientResult.patient?.pid, patientResult.orders[0]?.obr);
      const visit = this.reader.visit(patientResult.patient?.pid, patientResult.patient?.pv1);
      for (const order of patientResult.orders) {
        results.push(this.result(patient, visit, order, orderIndex++));
      }
    }
    return results;
  }

  private result(
    patient: PatientRef,
    visit: Visit | null,
    order: OrderObservation,
    orderIndex: number,
  ): LabResult {
    this.reader.orderIndex = orderIndex;
    this.reader.setId = null;
    const { obr, orc } = order;
    const { placer, filler } = this.reader.orderNumbers(obr, orc);
    const ordered = this.mapCode('orderable', obr, 4);
    const orderRef: OrderRef = {
      placerOrderNumber: placer,
      fillerOrderNumber: filler,
      code: loincCoding(ordered.entry),
      localCode: ordered.local,
      priority: orderPriority(order),
      orderingProvider: providerName(obr, 16) ?? providerName(orc, 12),
    };
    const effectiveAt = this.reader.timestamp(obr, 7);
    const observations = this.observations(order, effectiveAt);
    this.reader.setId = null;
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
      issuedAt: this.reader.timestamp(obr, 22),
      observations,
      notes: notesOf(order.notes),
      visit,
    };
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
        collectedAt: this.reader.timestamp(spm, 17),
        receivedAt: this.reader.timestamp(spm, 18),
      };
    }
    const obr = order.obr;
    const typeCode = fieldValue(obr, 15, 1, 1, 1);
    const receivedAt = this.reader.timestamp(obr, 14);
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
      this.reader.setId = null; // not known until OBX-1 is read: errors about OBX-1 must not name the previous one
      const setId = this.observationSetId(observation.obx, i + 1, seen);
      this.reader.setId = setId;
      return this.observation(observation, setId, effectiveAt);
    });
  }

  /** OBX-1, or the position in the order group when OBX-1 is empty; unique per group. */
  private observationSetId(obx: Hl7Segment, position: number, seen: Set<number>): number {
    const raw = fieldValue(obx, 1);
    const setId = raw === '' ? position : Number(raw);
    if (raw !== '' && (!/^\d+$/.test(raw) || setId < 1 || setId > 2_147_483_647)) {
      throw this.reader.error(
        'invalid-value',
        `set id "${raw}" is not a positive whole number`,
        obx,
        1,
      );
    }
    if (seen.has(setId)) {
      throw this.reader.error(
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
      throw this.reader.error('invalid-value', error.message, obx, error.field);
    }
    const unit = this.unit(obx);
    const referenceRange = optionalValue(obx, 7);
    const bounds =
      referenceRange === null ? { low: null, high: null } : parseReferenceRange(referenceRange);
    const interpretation = this.interpretation(obx);
    const observedAt = this.reader.timestamp(obx, 14) ?? effectiveAt;
    const critical = assessCritical(
      { code: loincCoding(mapped.entry), value, unit, interpretation },
      this.terminology,
    );
    if (critical.unitMismatch) {
      throw this.reader.error(
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
      throw this.reader.unmapped(error, obx, 6);
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
        throw this.reader.unmapped(error, obx, 8);
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
    const { local, standard: loinc } = codedElement(segment, field, isLoincSystem);
    const sent = local ?? loinc;
    if (!sent) {
      throw this.reader.error(
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
      throw this.reader.unmapped(error, segment, field);
    }
    if (local && loinc && loinc.code !== entry.loincCode) {
      throw this.reader.error(
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
}

function loincCoding(entry: LabCodeEntry | OrderableEntry): Coding {
  return { system: LOINC_SYSTEM, code: entry.loincCode, display: entry.loincDisplay };
}
