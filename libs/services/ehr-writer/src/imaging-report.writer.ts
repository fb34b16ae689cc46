/**
 * The ehr-writer's radiology flow: each canonical ImagingReport is written to the clinical
 * repository in one transaction (Patient, radiology DiagnosticReport, ImagingStudy when the Study
 * Instance UID is known, the EHR's ServiceRequest completed on a final report), idempotently by
 * event id. The first final report of an order observes order-to-result latency.
 */
import { Inject, Injectable } from '@nestjs/common';
import { type ImagingReport, Topics } from '@ancillary/contracts';
import { FhirStore } from '@ancillary/fhir-store';
import { ConsumeTopic } from '@ancillary/messaging-nest';
import { counter, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import { observeOrderToResult } from './order-to-result.metric';

const writes = counter(
  'ehr_writer_imaging_reports_total',
  'ImagingReports applied, by outcome and (for UNCHANGED) reason.',
  ['outcome', 'reason'],
);

@Injectable()
export class ImagingReportWriter {
  constructor(
    private readonly store: FhirStore,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @ConsumeTopic(Topics.clinicalImagingReports)
  async onImagingReport(report: ImagingReport): Promise<void> {
    const receipt = await this.store.writeImagingReport(report);
    writes.inc({ outcome: receipt.outcome, reason: receipt.unchangedReason ?? '' });
    const orderToResultSeconds = observeOrderToResult('imaging', report.sourceSystem, receipt);
    this.logger.info(
      {
        eventId: report.eventId,
        sourceSystem: report.sourceSystem,
        messageControlId: report.messageControlId,
        diagnosticReportId: receipt.diagnosticReportId,
        ...(receipt.imagingStudyId ? { imagingStudyId: receipt.imagingStudyId } : {}),
        versionId: receipt.versionId,
        outcome: receipt.outcome,
        ...(receipt.unchangedReason ? { unchangedReason: receipt.unchangedReason } : {}),
        ...(receipt.order ? { order: `${receipt.order.resourceType}/${receipt.order.id}` } : {}),
        ...(orderToResultSeconds !== undefined ? { orderToResultSeconds } : {}),
      },
      'imaging report written',
    );
  }
}
