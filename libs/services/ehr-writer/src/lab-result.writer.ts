/**
 * The ehr-writer's lab flow: each canonical LabResult is written to the clinical repository
 * in one transaction (Patient, ServiceRequest, Specimen, Observations, DiagnosticReport and the
 * ledger row), then a ResultWritten event says it is readable. The repository is idempotent by
 * event id, so a redelivered or replayed result changes nothing and still gets its event. A final
 * result completes the EHR's ServiceRequest it answers; the first one observes order-to-result.
 */
import { Inject, Injectable } from '@nestjs/common';
import { Topics, type LabResult, type ResultWritten } from '@ancillary/contracts';
import { FhirStore } from '@ancillary/fhir-store';
import { type ConsumedMessage, MessageProducer } from '@ancillary/messaging-kafka';
import { ConsumeTopic } from '@ancillary/messaging-nest';
import { counter, histogram, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import { observeOrderToResult } from './order-to-result.metric';

const writes = counter('ehr_writer_lab_results_total', 'LabResults applied, by outcome.', [
  'outcome',
]);
const receiptToChart = histogram(
  'ehr_writer_receipt_to_chart_seconds',
  'From the gateway receiving the HL7 message to its result being readable in the repository.',
);

@Injectable()
export class LabResultWriter {
  constructor(
    private readonly store: FhirStore,
    private readonly producer: MessageProducer,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @ConsumeTopic(Topics.clinicalResults)
  async onResult(result: LabResult, record: ConsumedMessage<LabResult>): Promise<void> {
    const receipt = await this.store.writeLabResult(result);
    writes.inc({ outcome: receipt.outcome });
    if (receipt.outcome !== 'UNCHANGED') {
      receiptToChart.observe(Math.max(0, receipt.writtenAt - result.receivedAt) / 1000);
    }
    const orderToResultSeconds = observeOrderToResult('lab', result.sourceSystem, receipt);
    // A redelivery (e.g. after a crash between the commit and the publish below) announces what
    // the first application did, not "unchanged": otherwise the only ResultWritten of a newly
    // charted result could say nothing was written. Announcements are idempotent per eventId.
    const outcome = receipt.recordedOutcome ?? receipt.outcome;
    this.logger.debug(
      {
        eventId: result.eventId,
        messageControlId: result.messageControlId,
        diagnosticReportId: receipt.diagnosticReportId,
        versionId: receipt.versionId,
        outcome: receipt.outcome,
        ...(receipt.unchangedReason ? { unchangedReason: receipt.unchangedReason } : {}),
        ...(receipt.order ? { order: `${receipt.order.resourceType}/${receipt.order.id}` } : {}),
        ...(orderToResultSeconds !== undefined ? { orderToResultSeconds } : {}),
      },
      'lab result written',
    );
    const written: ResultWritten = {
      eventId: result.eventId,
      sourceSystem: result.sourceSystem,
      messageControlId: result.messageControlId,
      orderIndex: result.orderIndex,
      envelopeId: result.envelopeId,
      receivedAt: result.receivedAt,
      writtenAt: receipt.writtenAt,
      patientId: receipt.patientId,
      diagnosticReportId: receipt.diagnosticReportId,
      versionId: receipt.versionId,
      observationCount: receipt.observationCount,
      outcome,
    };
    await this.producer.publish<ResultWritten>(Topics.clinicalResultsWritten, {
      key: record.key ?? receipt.patientId,
      value: written,
      context: record.context,
    });
  }
}
