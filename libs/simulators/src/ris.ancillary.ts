/**
 * The simulated radiology information system: takes ORM^O01 for the procedures of its facility
 * (imaging-procedures.csv, NWH-RAD by default; by local code, or by CPT sent as `C4`), answers
 * ORR^O02 with an accession number as filler number, and reports each study with an ORU^R01
 * (v2.3 by default) carrying a seeded report: TX body lines, an FT impression, the Study
 * Instance UID, OBR-18 accession and OBR-32 the interpreting radiologist (see
 * imaging-report.generator.ts). A procedure outside its table is refused (AR, ORC-1 UA).
 */
import type { Hl7Message } from '@ancillary/hl7-core';
import { UnmappedCodeError, type ImagingProcedureEntry } from '@ancillary/terminology';
import type { SimOrderRecord } from './ancillary-orders';
import {
  buildImagingReportMessage,
  drawImagingReport,
  RADIOLOGISTS,
  syntheticStudyUid,
  type ReportSectionStyle,
} from './imaging-report.generator';
import {
  OrderReceivingAncillary,
  type MllpOrderSource,
  type OrderCheck,
  type OrderReceivingAncillaryOptions,
} from './order-receiving.ancillary';
import type { ReceivedOrderMessage } from './received-order.reader';

export interface RisAncillaryOptions extends OrderReceivingAncillaryOptions {
  /** HL7 version of the reports; default 2.3. */
  resultVersion?: '2.3' | '2.4' | '2.5.1';
  /** OBX-3 of the report sections: LOINC codes (default) or the `&GDT` / `&IMP` suffixes. */
  sectionStyle?: ReportSectionStyle;
  /** Share of reports with findings (0–1); default 0.3. */
  abnormalShare?: number;
}

export class RisAncillary extends OrderReceivingAncillary<ImagingProcedureEntry> {
  constructor(private readonly risOptions: RisAncillaryOptions) {
    super(risOptions, {
      kind: 'ris',
      defaultFacility: 'NWH-RAD',
      fillerPrefix: 'A',
      acceptedTypes: ['ORM^O01'],
      version: risOptions.resultVersion ?? '2.3',
    });
  }

  protected checkOrder(
    received: ReceivedOrderMessage,
    line: number,
  ): OrderCheck<ImagingProcedureEntry> {
    const codings = received.content.lines[line]?.codings ?? [];
    for (const coding of codings) {
      try {
        return {
          ok: true,
          detail: this.terminology.mapImagingProcedure(this.facility, coding.code, coding.system),
        };
      } catch (error) {
        if (!(error instanceof UnmappedCodeError)) throw error;
      }
    }
    const code = codings[0]?.code ?? '';
    return {
      ok: false,
      reason: code
        ? `Unknown procedure code ${code}: not performed by ${this.facility}`
        : 'The order has no procedure code (OBR-4)',
      error: { hl7ErrorCode: code ? '103' : '101', segment: 'OBR', field: 4 },
    };
  }

  protected buildResult(
    source: MllpOrderSource<ImagingProcedureEntry> & { readonly detail: ImagingProcedureEntry },
    order: SimOrderRecord,
    controlId: string,
    now: Date,
  ): Hl7Message {
    const { received, line, detail } = source;
    if (!order.fillerOrderNumber) throw new Error('order without its accession number');
    const group = received.groups[line];
    const dg1 = received.message.segments('DG1')[0];
    const history =
      group?.obr?.get(13) || group?.obr?.get(31, 1, 2) || dg1?.get(3, 1, 2) || undefined;
    const report = drawImagingReport(this.random, detail, {
      ...(history ? { history } : {}),
      ...(this.risOptions.abnormalShare === undefined
        ? {}
        : { abnormalShare: this.risOptions.abnormalShare }),
    });
    return buildImagingReportMessage({
      received,
      line,
      procedure: detail,
      report,
      accessionNumber: order.fillerOrderNumber,
      studyInstanceUid: syntheticStudyUid(this.random),
      interpreter: this.random.pick(RADIOLOGISTS),
      controlId,
      version: this.profile.version,
      sendingApplication: this.sendingApplication,
      sendingFacility: this.facility,
      receivingApplication: this.receivingApplication,
      receivingFacility: this.receivingFacility,
      performedAt: new Date(Math.max(order.receivedAt.getTime(), now.getTime() - 60_000)),
      now,
      ...(this.risOptions.sectionStyle ? { sectionStyle: this.risOptions.sectionStyle } : {}),
    });
  }
}
