/**
 * Applies one canonical ImagingReport in one transaction, idempotently (the steps and guarantees
 * of event-writer.ts): Patient, the radiology DiagnosticReport, its ImagingStudy when the Study
 * Instance UID is known, and the order — the EHR's ServiceRequest found by placer number becomes
 * `completed` on a FINAL or CORRECTED report (never a revoked one), else this repository keeps
 * its own ServiceRequest for the order as it does for lab results.
 */
import type { ImagingReport } from '@ancillary/contracts';
import type { Pool, PoolClient } from 'pg';
import {
  completeOrder,
  eventSource,
  FINAL_REPORT_STATUSES,
  resultCompletesOrder,
} from './event.mapper';
import {
  chooseServiceRequest,
  duplicateFromState,
  type EventWriteReceipt,
  type EventWriterOptions,
  executeWrite,
  linkedOrder,
  loadEventState,
  patientFor,
  patientLockNames,
  patientUpdate,
  recordedEvent,
  watermarkOf,
  resourceKey,
  storedMap,
  subjectPatientId,
  versionsToWrite,
} from './event-writer';
import type { FhirResourceType, ResourceBase } from './fhir.types';
import { identifierLockName, resourceLockName } from './ids';
import {
  imagingReportKeys,
  type ImagingReportKeys,
  mapImagingReport,
} from './imaging-report.mapper';
import { inLockedTransaction } from './transaction';
import type { WriteOutcome } from './lab-result.writer';

export interface ImagingWriteReceipt extends EventWriteReceipt {
  diagnosticReportId: string;
  /** The report's ImagingStudy, when the UID is (or was) known. */
  imagingStudyId?: string;
  /** The ServiceRequest the report is based on (not known for a DUPLICATE_EVENT). */
  serviceRequestId?: string;
}

const KIND = 'imaging-report';

export class ImagingReportWriter {
  constructor(
    private readonly pool: Pool,
    private readonly options: EventWriterOptions,
  ) {}

  async write(report: ImagingReport): Promise<ImagingWriteReceipt> {
    const keys = imagingReportKeys(report, this.options.placerOrderSystem);
    const recorded = await recordedEvent(this.pool, report.eventId);
    if (recorded) {
      return { ...recorded.receipt, diagnosticReportId: recorded.entry.resourceId };
    }
    const receipt = await inLockedTransaction(
      this.pool,
      this.lockNames(keys),
      `writing imaging report ${report.eventId}`,
      (client) => this.apply(client, report, keys),
    );
    return receipt.unchangedReason === 'DUPLICATE_EVENT'
      ? receipt
      : { ...receipt, writtenAt: Date.now() };
  }

  private lockNames(keys: ImagingReportKeys): string[] {
    const names = patientLockNames(keys.patientIdentifiers);
    for (const id of keys.orderIdentifiers) {
      names.push(identifierLockName('ServiceRequest', id.system ?? '', id.value ?? ''));
    }
    names.push(resourceLockName('DiagnosticReport', keys.diagnosticReportId));
    names.push(resourceLockName('ImagingStudy', keys.imagingStudyId));
    return names;
  }

  private async apply(
    client: PoolClient,
    report: ImagingReport,
    keys: ImagingReportKeys,
  ): Promise<ImagingWriteReceipt> {
    const { logger, timeZone, metrics } = this.options;
    const wanted: [FhirResourceType, string][] = [
      ['DiagnosticReport', keys.diagnosticReportId],
      ['ImagingStudy', keys.imagingStudyId],
    ];
    if (keys.serviceRequestId) wanted.push(['ServiceRequest', keys.serviceRequestId]);
    const state = await loadEventState(client, {
      eventId: report.eventId,
      patientIdentifiers: keys.patientIdentifiers,
      ...(keys.placer ? { order: { resourceTypes: ['ServiceRequest'], ...keys.placer } } : {}),
      wanted,
      results: {
        resourceType: 'DiagnosticReport',
        param: 'based-on',
        statuses: FINAL_REPORT_STATUSES,
      },
    });
    if (state.ledger) {
      // Another consumer applied this very event while we waited for the locks.
      return { ...duplicateFromState(state.ledger), diagnosticReportId: keys.diagnosticReportId };
    }
    for (const problem of keys.warnings) {
      logger.warn({ eventId: report.eventId, problem }, 'imaging report data left out');
    }
    const patientId = patientFor(
      report.eventId,
      keys.patientIdentifiers.length,
      state.patient_ids,
      keys.newPatientId,
    );
    const stored = storedMap(state.resources);
    const currentReport = stored.get(resourceKey('DiagnosticReport', keys.diagnosticReportId));
    const storedStudy = stored.get(resourceKey('ImagingStudy', keys.imagingStudyId));
    const receivedAt = new Date(report.receivedAt);
    const now = new Date();
    const source = eventSource(report.sourceSystem, report.messageControlId, report.eventId);
    const ledger = (versionId: number, outcome: WriteOutcome, patient: string) => ({
      eventId: report.eventId,
      kind: KIND,
      sourceSystem: report.sourceSystem,
      patientId: patient,
      resourceType: 'DiagnosticReport',
      resourceId: keys.diagnosticReportId,
      versionId,
      outcome,
      receivedAt,
    });

    const watermark = watermarkOf(state, 'DiagnosticReport', keys.diagnosticReportId);
    if (currentReport && watermark && receivedAt.getTime() < watermark.getTime()) {
      // An older report arriving after a newer one (a redelivered preliminary after the final)
      // must not revert it. Recorded, so a reconcile knows it arrived.
      const filedFor = state.patient_ids[0] ?? subjectPatientId(currentReport.content) ?? patientId;
      await executeWrite(client, {
        versions: [],
        now,
        timeZone,
        metrics,
        eventLedger: ledger(currentReport.versionId, 'UNCHANGED', filedFor),
      });
      logger.warn(
        {
          eventId: report.eventId,
          messageControlId: report.messageControlId,
          sourceSystem: report.sourceSystem,
          diagnosticReportId: keys.diagnosticReportId,
          receivedAt: receivedAt.toISOString(),
          newestAppliedAt: watermark.toISOString(),
        },
        'imaging report older than the report version in the chart; recorded, not applied',
      );
      return {
        eventId: report.eventId,
        patientId: filedFor,
        diagnosticReportId: keys.diagnosticReportId,
        versionId: currentReport.versionId,
        outcome: 'UNCHANGED',
        writtenAt: now.getTime(),
        unchangedReason: 'OUT_OF_ORDER',
      };
    }

    const desired: ResourceBase[] = [];
    const patient = patientUpdate(
      this.options,
      report,
      keys.patientIdentifiers,
      patientId,
      stored,
      state.patient_watermark,
    );
    if (patient) desired.push(patient);

    const order = chooseServiceRequest(
      keys.serviceRequestId,
      state.orders.map((o) => o.id),
      stored,
      (ids) => {
        logger.warn(
          { eventId: report.eventId, serviceRequestIds: ids },
          'several ServiceRequests carry the placer order number; the report is based on the first',
        );
      },
    );
    if (order.ehr) {
      const completion = completeOrder(order.ehr.content, report.status);
      if (completion.action === 'complete') {
        desired.push(completion.order as unknown as ResourceBase);
      } else if (completion.action === 'keep') {
        logger.warn(
          {
            eventId: report.eventId,
            serviceRequestId: order.ehr.id,
            orderStatus: completion.status,
          },
          'final imaging report for an order that is no longer active; the order keeps its status',
        );
      }
    }

    const mapped = mapImagingReport(report, keys, {
      patientId,
      ...(order.id ? { serviceRequestId: order.id } : {}),
      imagingStudyStored: storedStudy !== undefined,
    });
    if (order.ownIsWritten && mapped.serviceRequest) desired.push(mapped.serviceRequest);
    if (mapped.imagingStudy) desired.push(mapped.imagingStudy);
    desired.push(mapped.report);

    const versions = versionsToWrite(desired, stored, now, source);
    const reportVersion =
      versions.find((v) => v.resourceType === 'DiagnosticReport')?.versionId ??
      currentReport?.versionId ??
      1;
    const outcome: WriteOutcome = !currentReport
      ? 'CREATED'
      : versions.length > 0
        ? 'UPDATED'
        : 'UNCHANGED';
    await executeWrite(client, {
      versions,
      now,
      timeZone,
      metrics,
      eventLedger: ledger(reportVersion, outcome, patientId),
    });
    const hasStudy = mapped.imagingStudy !== undefined || storedStudy !== undefined;
    return {
      eventId: report.eventId,
      patientId,
      diagnosticReportId: keys.diagnosticReportId,
      ...(hasStudy ? { imagingStudyId: keys.imagingStudyId } : {}),
      ...(order.id ? { serviceRequestId: order.id } : {}),
      versionId: reportVersion,
      outcome,
      writtenAt: now.getTime(),
      ...(outcome === 'UNCHANGED' ? { unchangedReason: 'SAME_CONTENT' as const } : {}),
      ...(order.ehr
        ? {
            order: linkedOrder(
              order.ehr,
              resultCompletesOrder(report.status) && (state.prior_results[order.ehr.id] ?? 0) === 0,
            ),
          }
        : {}),
    };
  }
}
