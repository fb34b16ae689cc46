/**
 * Applies one canonical LabResult to the repository in one transaction, idempotently:
 *
 * 1. ledger fast path: an event already applied returns its recorded receipt and writes nothing;
 * 2. BEGIN + advisory locks on the business keys (patient identifiers, order numbers, report,
 *    specimen), so concurrent consumers touching the same patient or report run one at a time;
 * 3. one statement loads the state (ledger again, patient by identifier, ServiceRequest by placer
 *    number, the current versions of every resource the result maps to, the out-of-order
 *    watermarks);
 * 4. the resources are mapped and compared with what is stored, ignoring meta; a FINAL or
 *    CORRECTED result completes the EHR's ServiceRequest it is based on (a revoked one stays
 *    revoked), and the receipt names that order so order-to-result time can be measured;
 * 5. one statement writes the versions that changed, their index rows and the ledger row;
 * 6. COMMIT.
 *
 * Five round trips for a new result, one for a replay, whatever the number of observations.
 */
import type { LabResult } from '@ancillary/contracts';
import type { Logger } from '@ancillary/observability';
import type { Pool, PoolClient } from 'pg';
import { completeOrder, FINAL_REPORT_STATUSES, resultCompletesOrder } from './event.mapper';
import {
  chooseServiceRequest,
  executeWrite,
  type LinkedOrder,
  linkedOrder,
  patientFor,
  patientLockNames,
  patientUpdate,
  resourceKey,
  type StoredJson,
  storedMap,
  subjectPatientId,
  versionsToWrite,
} from './event-writer';
import type { Observation, ResourceBase } from './fhir.types';
import { identifierLockName, resourceLockName } from './ids';
import {
  labResultKeys,
  type LabResultKeys,
  mapLabResult,
  messageSource,
} from './lab-result.mapper';
import type { StoreMetrics } from './metrics';
import { parseReference } from './search-parameters';
import { inLockedTransaction } from './transaction';
import type { LedgerRow, ResourceVersion } from './write.statement';

export type WriteOutcome = 'CREATED' | 'UPDATED' | 'UNCHANGED';

/** Why a write changed nothing. */
export type UnchangedReason = 'DUPLICATE_EVENT' | 'OUT_OF_ORDER' | 'SAME_CONTENT';

export interface LabWriteReceipt {
  eventId: string;
  patientId: string;
  diagnosticReportId: string;
  /** meta.versionId of the DiagnosticReport after the write. */
  versionId: number;
  observationCount: number;
  outcome: WriteOutcome;
  /** Epoch ms: when the transaction committed (for a duplicate event: when it first did). */
  writtenAt: number;
  /** Set when outcome is UNCHANGED. */
  unchangedReason?: UnchangedReason;
  /** For a DUPLICATE_EVENT: what applying this event did the first time (from the ledger). */
  recordedOutcome?: WriteOutcome;
  /**
   * The EHR's ServiceRequest the result was filed against (found by placer number), with
   * `firstResult` true on the write that filed its first final result: order-to-result latency.
   */
  order?: LinkedOrder;
}

interface LedgerJson {
  event_id: string;
  patient_id: string;
  report_id: string;
  report_version: number;
  observation_count: number;
  written_at: string;
  outcome: WriteOutcome;
}

interface LoadedState {
  ledger: LedgerJson | null;
  patient_ids: string[];
  service_request_ids: string[];
  resources: StoredJson[];
  report_watermark: Date | null;
  patient_watermark: Date | null;
  /** Per EHR ServiceRequest found: how many final DiagnosticReports are based on it already. */
  prior_results: Record<string, number>;
}

const LEDGER_SQL = `SELECT event_id, patient_id, report_id, report_version, observation_count, written_at,
  outcome
FROM fhir.message_ledger WHERE event_id = $1`;

const LOAD_SQL = `
WITH pat AS (
  SELECT DISTINCT t.id FROM fhir.search_token t
  JOIN unnest($2::text[], $3::text[]) AS q(system, code) ON t.system = q.system AND t.code = q.code
  WHERE t.resource_type = 'Patient' AND t.param = 'identifier'
), sr AS (
  SELECT DISTINCT t.id FROM fhir.search_token t
  WHERE $5::text IS NOT NULL AND t.resource_type = 'ServiceRequest' AND t.param = 'identifier'
    AND t.system = $4 AND t.code = $5
), previous_results AS (
  SELECT x.target_type AS resource_type, x.target_id AS id FROM fhir.search_reference x
  WHERE x.resource_type = 'DiagnosticReport' AND x.id = $8 AND x.param = 'result'
), wanted AS (
  SELECT 'Patient'::text AS resource_type, id FROM pat
  UNION SELECT 'ServiceRequest', id FROM sr
  UNION SELECT * FROM unnest($6::text[], $7::text[])
  UNION SELECT * FROM previous_results
)
SELECT
  (SELECT to_jsonb(l) FROM fhir.message_ledger l WHERE l.event_id = $1) AS ledger,
  (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]'::jsonb) FROM pat) AS patient_ids,
  (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]'::jsonb) FROM sr) AS service_request_ids,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('resourceType', r.resource_type, 'id', r.id,
      'versionId', r.version_id, 'content', r.content)), '[]'::jsonb)
   FROM fhir.resource r JOIN wanted w ON w.resource_type = r.resource_type AND w.id = r.id) AS resources,
  (SELECT max(received_at) FROM fhir.message_ledger WHERE report_id = $8) AS report_watermark,
  (SELECT max(at) FROM (
     SELECT received_at AS at FROM fhir.message_ledger WHERE patient_id IN (SELECT id FROM pat)
     UNION ALL
     -- Imaging reports and dispenses carry demographics too (order statuses do not).
     SELECT received_at FROM fhir.event_ledger
     WHERE patient_id IN (SELECT id FROM pat) AND kind IN ('imaging-report', 'dispense')
   ) p) AS patient_watermark,
  (SELECT coalesce(jsonb_object_agg(o.id, (
      SELECT count(*) FROM fhir.search_reference x
      JOIN fhir.search_token s ON s.resource_type = x.resource_type AND s.id = x.id
        AND s.param = 'status'
      WHERE x.target_type = 'ServiceRequest' AND x.target_id = o.id
        AND x.resource_type = 'DiagnosticReport' AND x.param = 'based-on'
        AND s.code = ANY($9::text[]))), '{}'::jsonb)
   FROM sr o) AS prior_results`;

export interface LabResultWriterOptions {
  placerOrderSystem: string;
  timeZone: string;
  logger: Logger;
  metrics: StoreMetrics;
}

const key = resourceKey;

/** Status an observation takes when a newer version of its report no longer lists it. */
function droppedStatus(reportStatus: string): Observation['status'] {
  return reportStatus === 'cancelled' ? 'cancelled' : 'entered-in-error';
}

export class LabResultWriter {
  constructor(
    private readonly pool: Pool,
    private readonly options: LabResultWriterOptions,
  ) {}

  async write(result: LabResult): Promise<LabWriteReceipt> {
    const keys = labResultKeys(result, this.options.placerOrderSystem);
    const recorded = await this.pool.query<{
      patient_id: string;
      report_id: string;
      report_version: number;
      observation_count: number;
      written_at: Date;
      outcome: WriteOutcome;
    }>(LEDGER_SQL, [result.eventId]);
    const row = recorded.rows[0];
    if (row) {
      return {
        eventId: result.eventId,
        patientId: row.patient_id,
        diagnosticReportId: row.report_id,
        versionId: row.report_version,
        observationCount: row.observation_count,
        outcome: 'UNCHANGED',
        writtenAt: row.written_at.getTime(),
        unchangedReason: 'DUPLICATE_EVENT',
        recordedOutcome: row.outcome,
      };
    }
    const receipt = await inLockedTransaction(
      this.pool,
      this.lockNames(keys),
      `writing lab result ${result.eventId}`,
      (client) => this.apply(client, result, keys),
    );
    return receipt.outcome === 'UNCHANGED' && receipt.unchangedReason === 'DUPLICATE_EVENT'
      ? receipt
      : { ...receipt, writtenAt: Date.now() };
  }

  private lockNames(keys: LabResultKeys): string[] {
    const names = patientLockNames(keys.patientIdentifiers);
    for (const id of keys.orderIdentifiers) {
      names.push(identifierLockName('ServiceRequest', id.system ?? '', id.value ?? ''));
    }
    names.push(resourceLockName('DiagnosticReport', keys.diagnosticReportId));
    if (keys.specimenId) names.push(resourceLockName('Specimen', keys.specimenId));
    return names;
  }

  private async load(
    client: PoolClient,
    result: LabResult,
    keys: LabResultKeys,
  ): Promise<LoadedState> {
    const wanted: [string, string][] = [['DiagnosticReport', keys.diagnosticReportId]];
    if (keys.serviceRequestId) wanted.push(['ServiceRequest', keys.serviceRequestId]);
    if (keys.specimenId) wanted.push(['Specimen', keys.specimenId]);
    for (const id of keys.observationIds) wanted.push(['Observation', id]);
    const { rows } = await client.query<LoadedState>(LOAD_SQL, [
      result.eventId,
      keys.patientIdentifiers.map((i) => i.system),
      keys.patientIdentifiers.map((i) => i.value),
      keys.placer?.system ?? null,
      keys.placer?.value ?? null,
      wanted.map(([t]) => t),
      wanted.map(([, id]) => id),
      keys.diagnosticReportId,
      FINAL_REPORT_STATUSES,
    ]);
    const state = rows[0];
    // A SELECT without FROM always answers one row; no row means the driver misbehaved.
    if (!state) throw new Error('loading the repository state returned no row');
    return state;
  }

  private async apply(
    client: PoolClient,
    result: LabResult,
    keys: LabResultKeys,
  ): Promise<LabWriteReceipt> {
    const state = await this.load(client, result, keys);
    if (state.ledger) {
      // Another consumer applied this very event while we waited for the locks.
      return {
        eventId: result.eventId,
        patientId: state.ledger.patient_id,
        diagnosticReportId: state.ledger.report_id,
        versionId: state.ledger.report_version,
        observationCount: state.ledger.observation_count,
        outcome: 'UNCHANGED',
        writtenAt: new Date(state.ledger.written_at).getTime(),
        unchangedReason: 'DUPLICATE_EVENT',
        recordedOutcome: state.ledger.outcome,
      };
    }
    // Identifiers only, never demographics, and counted rather than listed: no PHI in errors.
    const matchedPatientId = patientFor(
      result.eventId,
      keys.patientIdentifiers.length,
      state.patient_ids,
      keys.newPatientId,
    );
    const stored = storedMap(state.resources);
    const currentReport = stored.get(key('DiagnosticReport', keys.diagnosticReportId));
    const receivedAt = new Date(result.receivedAt);
    const now = new Date();
    const source = messageSource(result.sourceSystem, result.messageControlId);

    const ledger = (
      patientId: string,
      reportVersion: number,
      outcome: LedgerRow['outcome'],
    ): LedgerRow => ({
      eventId: result.eventId,
      sourceSystem: result.sourceSystem,
      messageControlId: result.messageControlId,
      orderIndex: result.orderIndex,
      patientId,
      reportId: keys.diagnosticReportId,
      reportVersion,
      outcome,
      receivedAt,
      observationCount: result.observations.length,
    });

    if (
      currentReport &&
      state.report_watermark &&
      receivedAt.getTime() < state.report_watermark.getTime()
    ) {
      // An older message arriving after a newer one (a redelivered preliminary after the final):
      // it must not revert the report. Recorded, so the reconcile command knows it arrived.
      const patientId =
        state.patient_ids[0] ?? subjectPatientId(currentReport.content) ?? keys.newPatientId;
      await this.execute(client, [], now, ledger(patientId, currentReport.versionId, 'UNCHANGED'));
      this.options.logger.warn(
        {
          eventId: result.eventId,
          messageControlId: result.messageControlId,
          sourceSystem: result.sourceSystem,
          diagnosticReportId: keys.diagnosticReportId,
          receivedAt: receivedAt.toISOString(),
          newestAppliedAt: state.report_watermark.toISOString(),
        },
        'lab result older than the report version in the chart; recorded, not applied',
      );
      return {
        eventId: result.eventId,
        patientId,
        diagnosticReportId: keys.diagnosticReportId,
        versionId: currentReport.versionId,
        observationCount: result.observations.length,
        outcome: 'UNCHANGED',
        writtenAt: now.getTime(),
        unchangedReason: 'OUT_OF_ORDER',
      };
    }

    const patientId = matchedPatientId;
    const desired: ResourceBase[] = [];
    // Demographics from an older message than the patient's latest must not revert them.
    const patient = patientUpdate(
      this.options,
      result,
      keys.patientIdentifiers,
      patientId,
      stored,
      state.patient_watermark,
    );
    if (patient) desired.push(patient);

    // The order: ours when we created it before, else one the EHR sent, else a new one of ours.
    const order = chooseServiceRequest(
      keys.serviceRequestId,
      state.service_request_ids,
      stored,
      (ids) => {
        this.options.logger.warn(
          { eventId: result.eventId, serviceRequestIds: ids },
          'several ServiceRequests carry the placer order number; the report is based on the first',
        );
      },
    );
    const serviceRequestId = order.id;
    const writeServiceRequest = order.ownIsWritten;
    if (order.ehr) {
      // The EHR's order is done once its result is final; a revoked order is never revived.
      const completion = completeOrder(order.ehr.content, result.status);
      if (completion.action === 'complete') {
        desired.push(completion.order as unknown as ResourceBase);
      } else if (completion.action === 'keep') {
        this.options.logger.warn(
          {
            eventId: result.eventId,
            serviceRequestId: order.ehr.id,
            orderStatus: completion.status,
          },
          'final lab result for an order that is no longer active; the order keeps its status',
        );
      }
    }

    const mapped = mapLabResult(result, keys, {
      patientId,
      ...(serviceRequestId ? { serviceRequestId } : {}),
    });
    if (writeServiceRequest && mapped.serviceRequest) desired.push(mapped.serviceRequest);
    if (mapped.specimen) desired.push(mapped.specimen);
    desired.push(...mapped.observations, mapped.report);

    // Observations a previous version of the report listed and this one does not.
    const current = new Set(mapped.observations.map((o) => o.id));
    const previousResults = Array.isArray(currentReport?.content['result'])
      ? (currentReport.content['result'] as { reference?: string }[])
      : [];
    for (const ref of previousResults) {
      const parsed = ref.reference ? parseReference(ref.reference) : undefined;
      if (parsed?.type !== 'Observation' || current.has(parsed.id)) continue;
      const previous = stored.get(key('Observation', parsed.id));
      if (!previous) continue;
      const status = droppedStatus(mapped.report.status);
      if (previous.content['status'] === status) continue;
      const { meta: _meta, ...content } = previous.content;
      const dropped: Observation = { ...(content as unknown as Observation), status };
      desired.push(dropped);
    }

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
    await this.execute(client, versions, now, ledger(patientId, reportVersion, outcome));
    return {
      eventId: result.eventId,
      patientId,
      diagnosticReportId: keys.diagnosticReportId,
      versionId: reportVersion,
      observationCount: result.observations.length,
      outcome,
      writtenAt: now.getTime(),
      ...(outcome === 'UNCHANGED' ? { unchangedReason: 'SAME_CONTENT' as const } : {}),
      ...(order.ehr
        ? {
            order: linkedOrder(
              order.ehr,
              resultCompletesOrder(result.status) && (state.prior_results[order.ehr.id] ?? 0) === 0,
            ),
          }
        : {}),
    };
  }

  private async execute(
    client: PoolClient,
    versions: ResourceVersion[],
    now: Date,
    ledger: LedgerRow,
  ): Promise<void> {
    await executeWrite(client, {
      versions,
      now,
      timeZone: this.options.timeZone,
      ledger,
      metrics: this.options.metrics,
    });
  }
}
