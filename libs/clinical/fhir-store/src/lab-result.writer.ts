/**
 * Applies one canonical LabResult to the repository in one transaction, idempotently:
 *
 * 1. ledger fast path: an event already applied returns its recorded receipt and writes nothing;
 * 2. BEGIN + advisory locks on the business keys (patient identifiers, order numbers, report,
 *    specimen), so concurrent consumers touching the same patient or report run one at a time;
 * 3. one statement loads the state (ledger again, patient by identifier, ServiceRequest by placer
 *    number, the current versions of every resource the result maps to, the out-of-order
 *    watermarks);
 * 4. the resources are mapped and compared with what is stored, ignoring meta;
 * 5. one statement writes the versions that changed, their index rows and the ledger row;
 * 6. COMMIT.
 *
 * Five round trips for a new result, one for a replay, whatever the number of observations.
 */
import type { LabResult } from '@ancillary/contracts';
import type { Logger } from '@ancillary/observability';
import type { Pool, PoolClient } from 'pg';
import { type JsonObject, sameContent, toJsonObject } from './content';
import { PatientIdentityConflictError, RepositoryConflictError } from './errors';
import type { FhirResource, FhirResourceType, Observation } from './fhir.types';
import { identifierLockName, resourceLockName } from './ids';
import {
  labResultKeys,
  type LabResultKeys,
  mapLabResult,
  messageSource,
  patientFromLabResult,
} from './lab-result.mapper';
import type { StoreMetrics } from './metrics';
import { indexEntries, parseReference } from './search-parameters';
import { inLockedTransaction } from './transaction';
import {
  type LedgerRow,
  type ResourceVersion,
  writeStatement,
  type WriteStatementResult,
} from './write.statement';

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

interface StoredJson {
  resourceType: FhirResourceType;
  id: string;
  versionId: number;
  content: JsonObject;
}

interface LoadedState {
  ledger: LedgerJson | null;
  patient_ids: string[];
  service_request_ids: string[];
  resources: StoredJson[];
  report_watermark: Date | null;
  patient_watermark: Date | null;
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
  (SELECT max(received_at) FROM fhir.message_ledger
   WHERE patient_id IN (SELECT id FROM pat)) AS patient_watermark`;

export interface LabResultWriterOptions {
  placerOrderSystem: string;
  timeZone: string;
  logger: Logger;
  metrics: StoreMetrics;
}

const key = (type: string, id: string): string => `${type}/${id}`;

/** Every resource the mapper builds has its id; one without is a defect, not bad input. */
function resourceId(resource: FhirResource): string {
  if (!resource.id) throw new Error(`mapped ${resource.resourceType} has no id`);
  return resource.id;
}

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
    const names = keys.patientIdentifiers.map((i) =>
      identifierLockName('Patient', i.system, i.value),
    );
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
    if (state.patient_ids.length > 1) {
      // Identifiers only, never demographics, and counted rather than listed: no PHI in errors.
      throw new PatientIdentityConflictError(
        `the ${keys.patientIdentifiers.length} patient identifiers of event ${result.eventId} ` +
          `belong to ${state.patient_ids.length} different patients (${state.patient_ids.join(', ')}); ` +
          'the result needs a person to decide which chart it belongs to',
      );
    }
    const stored = new Map(state.resources.map((r) => [key(r.resourceType, r.id), r]));
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
      const subject = currentReport.content['subject'] as { reference?: string } | undefined;
      const patientId =
        state.patient_ids[0] ??
        (subject?.reference ? parseReference(subject.reference)?.id : undefined) ??
        keys.newPatientId;
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

    const patientId = state.patient_ids[0] ?? keys.newPatientId;
    const desired: FhirResource[] = [];
    const storedPatient = stored.get(key('Patient', patientId));
    const patientIsNewer =
      !storedPatient ||
      !state.patient_watermark ||
      receivedAt.getTime() >= state.patient_watermark.getTime();
    if (patientIsNewer) {
      // Demographics from an older message than the patient's latest must not revert them.
      const update = patientFromLabResult(result, keys, patientId, storedPatient?.content);
      if (update.warnings.length > 0) {
        this.options.logger.warn(
          { eventId: result.eventId, patientId, problems: update.warnings },
          'patient demographics in the lab result could not be used',
        );
      }
      desired.push(update.patient);
    }

    // The order: ours when we created it before, else one the EHR sent, else a new one of ours.
    let serviceRequestId: string | undefined;
    let writeServiceRequest = false;
    if (keys.serviceRequestId) {
      const own = keys.serviceRequestId;
      const found = state.service_request_ids;
      if (found.includes(own) || stored.has(key('ServiceRequest', own)) || found.length === 0) {
        serviceRequestId = own;
        writeServiceRequest = true;
      } else {
        serviceRequestId = found[0];
        if (found.length > 1) {
          this.options.logger.warn(
            { eventId: result.eventId, serviceRequestIds: found },
            'several ServiceRequests carry the placer order number; the report is based on the first',
          );
        }
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
      desired.push({ ...(content as unknown as Observation), status });
    }

    const versions: ResourceVersion[] = [];
    for (const resource of desired) {
      const content = toJsonObject(resource);
      const id = resourceId(resource);
      const existing = stored.get(key(resource.resourceType, id));
      if (existing && sameContent(existing.content, content)) continue;
      const versionId = (existing?.versionId ?? 0) + 1;
      content['meta'] = { versionId: String(versionId), lastUpdated: now.toISOString(), source };
      versions.push({
        resourceType: resource.resourceType,
        id,
        versionId,
        content,
        source,
      });
    }
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
    for (const v of versions) this.options.metrics.versions.inc({ resource_type: v.resourceType });
    return {
      eventId: result.eventId,
      patientId,
      diagnosticReportId: keys.diagnosticReportId,
      versionId: reportVersion,
      observationCount: result.observations.length,
      outcome,
      writtenAt: now.getTime(),
      ...(outcome === 'UNCHANGED' ? { unchangedReason: 'SAME_CONTENT' as const } : {}),
    };
  }

  private async execute(
    client: PoolClient,
    versions: ResourceVersion[],
    now: Date,
    ledger: LedgerRow,
  ): Promise<void> {
    const statement = writeStatement({
      versions,
      indexTargets: versions.map((v) => ({
        resourceType: v.resourceType,
        id: v.id,
        entries: indexEntries(v.resourceType, v.content),
        replaces: v.versionId > 1,
      })),
      lastUpdated: now,
      timeZone: this.options.timeZone,
      ledger,
    });
    const { rows } = await client.query<WriteStatementResult>(statement.text, statement.values);
    const upserted = rows[0]?.upserted ?? 0;
    if (upserted !== versions.length) {
      // A version check failed: a writer outside these locks changed a resource meanwhile.
      throw new RepositoryConflictError(
        `event ${ledger.eventId}: ${versions.length - upserted} of ${versions.length} resources ` +
          'changed concurrently; the write is rolled back and can be retried',
      );
    }
  }
}
