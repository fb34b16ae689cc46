/**
 * RIS ORU^R01 → ImagingReport: one report per order group (OBR), its text readable as the
 * radiologist wrote it.
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch07.html#Heading17 ORU^R01
 */
import { imagingReportEventId, type ImagingReport } from '@ancillary/contracts';
import {
  readOruR01,
  type Hl7Segment,
  type Observation,
  type OrderObservation,
  type Hl7Message,
} from '@ancillary/hl7-core';
import {
  Hl7MessageReader,
  codedElement,
  fieldValue,
  optionalValue,
  orderPriority,
  personName,
  resultStatus,
  type Hl7MessageSource,
  type PatientRef,
  type Visit,
} from '@ancillary/lab-normalization';
import {
  CPT_SYSTEM,
  isCptSystem,
  isLoincSystem,
  type ImagingProcedureEntry,
  type Terminology,
} from '@ancillary/terminology';
import { assembleReport, type ReportLine, type ReportSection } from './report-text';

export interface ImagingNormalizeOptions {
  /** IANA zone of the RIS clock, for HL7 times sent without an offset (default `UTC`). */
  readonly defaultTimeZone?: string;
}

type Coding = ImagingReport['procedure'];

/** OBX value types whose OBX-5 is report text (table 0125). */
const TEXT_TYPES = new Set(['TX', 'FT', 'ST']);

/**
 * OBX-3 of the DICOM Study Instance UID: `113014^Study Instance UID^DCM` (DICOM PS3.16
 * CID 7001 / the IHE "HL7 v2 report" mapping), value type ST or RP.
 * @see https://dicom.nema.org/medical/dicom/current/output/chtml/part16/chapter_D.html
 */
const STUDY_UID_CODE = '113014';

/** DICOM UID (PS3.5 §9.1): numeric components without leading zeros, at most 64 characters. */
const DICOM_UID = /^(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))+$/;

/**
 * Report sections by OBX-3: the observation-identifier suffix (`&GDT` general description —
 * the body, `&IMP` impression; HL7 v2.5.1 §7.13 "diagnostic imaging") or the LOINC of the
 * section (19005-8 impression, 18782-3 study observation, 59776-5 procedure findings).
 */
const SECTION_BY_SUFFIX: Readonly<Record<string, ReportSection>> = {
  GDT: 'findings',
  IMP: 'impression',
};
const SECTION_BY_LOINC: Readonly<Record<string, ReportSection>> = {
  '19005-8': 'impression',
  '18782-3': 'findings',
  '59776-5': 'findings',
};

/**
 * Maps a radiology ORU^R01 to canonical imaging reports: one `ImagingReport` per order group
 * (OBR), `orderIndex` from 0 across the message, `eventId = imagingReportEventId(sourceSystem,
 * MSH-10, orderIndex, payloadDigest)` — mapping the same message again gives the same ids.
 *
 * - `reportText`: every TX/FT/ST OBX in order, one after the other on their own lines; FT
 *   formatting (`\.br\`, `\.sp\`, `\.in\`…) rendered and highlighting (`\H\…\N\`) dropped by
 *   hl7-core's formatted-text renderer, escapes decoded, repetitions as lines. Empty TX OBX
 *   (blank lines between paragraphs) are kept inside the text.
 * - `findings` / `impression`: the OBX of those sections (by OBX-3 suffix or LOINC), else the
 *   text under a `FINDINGS:` / `IMPRESSION:` heading of the report text.
 * - `studyInstanceUid`: OBX `113014^Study Instance UID^DCM` (ST, or RP pointer), else ZDS-1.
 * - `accessionNumber`: OBR-18 (placer field 1, where RIS put the accession), else OBR-3.
 * - `procedure`: OBR-4 through imaging-procedures.csv for MSH-4 (CPT and modality).
 * - `priority` as for lab results; `highPriority` from order-rules.csv for it.
 * - `visit`: PID-18 account, PV1-19 visit number, PV1-2 class, PV1-3 location, read as for lab
 *   results (`Hl7MessageReader.visit`); null when neither PID-18 nor a valued PV1 is sent.
 *
 * @throws NormalizationError (permanent), e.g. `unmapped-code` for a procedure the table does
 *   not have, `missing-report-text` for a report without text that is not cancelled.
 * @throws RangeError when `options.defaultTimeZone` is not an IANA time zone (configuration).
 */
export function normalizeImagingMessage(
  message: Hl7Message,
  source: Hl7MessageSource,
  terminology: Terminology,
  options: ImagingNormalizeOptions = {},
): ImagingReport[] {
  const reader = new Hl7MessageReader(message, options.defaultTimeZone ?? 'UTC');
  reader.requireMessageType(['ORU^R01'], 'an imaging report');
  const facility = reader.requireFacility();
  const oru = reader.groups(readOruR01, 'ORU^R01');
  const mapper = new ImagingReportMapper(reader, facility, source, terminology);
  const reports: ImagingReport[] = [];
  for (const result of oru.patientResults) {
    const patient = reader.patient(result.patient?.pid, result.orders[0]?.obr);
    const visit = reader.visit(result.patient?.pid, result.patient?.pv1);
    for (const order of result.orders) {
      reports.push(mapper.report(patient, visit, order, reports.length));
    }
  }
  return reports;
}

class ImagingReportMapper {
  constructor(
    private readonly reader: Hl7MessageReader,
    private readonly facility: string,
    private readonly source: Hl7MessageSource,
    private readonly terminology: Terminology,
  ) {}

  report(
    patient: PatientRef,
    visit: Visit | null,
    order: OrderObservation,
    orderIndex: number,
  ): ImagingReport {
    const reader = this.reader;
    reader.orderIndex = orderIndex;
    reader.setId = null;
    const { obr } = order;
    const { placer, filler } = reader.orderNumbers(obr, order.orc);
    const { procedure, localProcedure, entry } = this.procedure(obr);
    const status = resultStatus(fieldValue(obr, 25));
    const lines = this.reportLines(order.observations);
    const report = assembleReport(lines);
    if (report.text === '' && status !== 'CANCELLED') {
      throw reader.error(
        'missing-report-text',
        'the order group has no report text (no TX, FT or ST OBX with a value); only a cancelled order (OBR-25 X) may come without one',
        obr,
        25,
      );
    }
    reader.setId = null;
    const priority = orderPriority(order);
    return {
      eventId: imagingReportEventId(
        this.source.sourceSystem,
        reader.message.controlId,
        orderIndex,
        this.source.payloadDigest,
      ),
      sourceSystem: this.source.sourceSystem,
      messageControlId: reader.message.controlId,
      orderIndex,
      envelopeId: this.source.envelopeId,
      receivedAt: this.source.receivedAt,
      patient,
      placerOrderNumber: placer,
      fillerOrderNumber: filler,
      accessionNumber: optionalValue(obr, 18) ?? filler,
      studyInstanceUid: this.studyInstanceUid(order),
      procedure,
      localProcedure,
      modality: entry.modality,
      priority,
      status,
      highPriority: this.terminology.orderRule(priority).highPriorityResult,
      effectiveAt: reader.timestamp(obr, 7),
      issuedAt: reader.timestamp(obr, 22),
      reportText: report.text,
      findings: report.findings,
      impression: report.impression,
      // OBR-32 NDL: its first component is a CNN, whose parts are subcomponents.
      interpreter: personName((p) => fieldValue(obr, 32, 1, 1, p)),
      visit,
    };
  }

  /**
   * OBR-4 through the facility's imaging procedures: the local code when one is sent, else the
   * CPT; a CPT sent beside a local code must be the one the table maps it to.
   */
  private procedure(obr: Hl7Segment): {
    procedure: Coding;
    localProcedure: Coding;
    entry: ImagingProcedureEntry;
  } {
    const { local, standard: cpt } = codedElement(obr, 4, isCptSystem);
    const sent = local ?? cpt;
    if (!sent) {
      throw this.reader.error('missing-code', 'the procedure (OBR-4) is empty', obr, 4);
    }
    let entry: ImagingProcedureEntry;
    try {
      entry = this.terminology.mapImagingProcedure(this.facility, sent.code, sent.system || null);
    } catch (error) {
      throw this.reader.unmapped(error, obr, 4);
    }
    if (local && cpt && cpt.code !== entry.cptCode) {
      throw this.reader.error(
        'conflicting-code',
        `the sender's CPT ${cpt.code} disagrees with ${entry.source.file} line ${entry.source.line}, which maps ${local.code} (${this.facility}) to CPT ${entry.cptCode}`,
        obr,
        4,
      );
    }
    return {
      procedure: { system: CPT_SYSTEM, code: entry.cptCode, display: entry.cptDisplay },
      localProcedure: {
        system: this.terminology.codeSystemUri(this.facility, sent.system),
        code: sent.code,
        display: sent.display === '' ? null : sent.display,
      },
      entry,
    };
  }

  /** The text OBX of the order group as lines of the report, each with its section. */
  private reportLines(observations: readonly Observation[]): ReportLine[] {
    const lines: ReportLine[] = [];
    for (const { obx } of observations) {
      if (isStudyUidObservation(obx)) continue;
      if (!TEXT_TYPES.has(fieldValue(obx, 2).toUpperCase())) continue;
      const raw = obx.getText(5) ?? '';
      // The HL7 explicit null `""` is no text (a blank line at most).
      const text = raw.trim() === '""' ? '' : raw;
      lines.push({ text, section: sectionOf(obx) });
    }
    return lines;
  }

  /** The Study Instance UID: the 113014 OBX, else ZDS-1 (a Z-segment many RIS send). */
  private studyInstanceUid(order: OrderObservation): string | null {
    let uid: string | null = null;
    for (const [i, { obx }] of order.observations.entries()) {
      if (!isStudyUidObservation(obx)) continue;
      this.reader.setId = Number(fieldValue(obx, 1)) || i + 1;
      // ST: the UID; RP: a reference pointer whose first component is the UID.
      const value = this.validUid(fieldValue(obx, 5, 1, 1), obx, 5);
      if (value === null) continue;
      if (uid !== null && uid !== value) {
        throw this.reader.error(
          'invalid-value',
          'a second, different Study Instance UID in the same order group; one report describes one study',
          obx,
          5,
        );
      }
      uid = value;
    }
    this.reader.setId = null;
    if (uid !== null) return uid;
    const zds = [...order.other, ...order.observations.flatMap((o) => o.other)].find(
      (segment) => segment.name === 'ZDS',
    );
    return zds ? this.validUid(fieldValue(zds, 1, 1, 1), zds, 1) : null;
  }

  private validUid(value: string, segment: Hl7Segment, field: number): string | null {
    if (value === '') return null;
    if (value.length > 64 || !DICOM_UID.test(value)) {
      throw this.reader.error(
        'invalid-value',
        `"${value}" is not a DICOM UID (dot-separated numbers without leading zeros, at most 64 characters)`,
        segment,
        field,
      );
    }
    return value;
  }
}

function isStudyUidObservation(obx: Hl7Segment): boolean {
  const system = fieldValue(obx, 3, 1, 3).toUpperCase();
  return fieldValue(obx, 3, 1, 1) === STUDY_UID_CODE && (system === 'DCM' || system === '');
}

/** The report section an OBX belongs to, from its OBX-3 suffix or LOINC; null: none named. */
function sectionOf(obx: Hl7Segment): ReportSection | null {
  // `71046&IMP`, `&GDT`: the suffix is the second subcomponent of OBX-3.1.
  const suffix = SECTION_BY_SUFFIX[fieldValue(obx, 3, 1, 1, 2).toUpperCase()];
  if (suffix) return suffix;
  for (const first of [1, 4]) {
    if (!isLoincSystem(fieldValue(obx, 3, 1, first + 2))) continue;
    const section = SECTION_BY_LOINC[fieldValue(obx, 3, 1, first)];
    if (section) return section;
  }
  return null;
}
