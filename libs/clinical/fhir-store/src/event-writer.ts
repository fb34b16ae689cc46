/**
 * The machinery every canonical-event writer shares (LabResult, ImagingReport,
 * MedicationDispensed, OrderStatusChanged): the ledger fast path, one statement that loads the
 * state an event needs (its ledger row, the patient by identifier, the order by placer number,
 * the stored versions, the out-of-order watermarks), the patient identity rules, versioning
 * against what is stored, and the write itself. Each writer keeps its own steps; the guarantees
 * are the same for all of them:
 *
 * - one transaction per event, under advisory locks on its business keys;
 * - idempotent: an event in the ledger is answered from it and writes nothing;
 * - a new version only when content changed (meta aside); corrections version the same ids;
 * - an event older than the newest one applied to the same resource never reverts it;
 * - a patient is matched by any identifier and never guessed at when they name two.
 */
import { counter, histogram, type Logger, describeError } from '@ancillary/observability';
import type { Pool, PoolClient } from 'pg';
import { type JsonObject, sameContent, toJsonObject } from './content';
import {
  classifyDatabaseError,
  PatientIdentityConflictError,
  RepositoryConflictError,
} from './errors';
import {
  patientFromCanonical,
  type CanonicalPatient,
  type PatientIdentifierKey,
} from './event.mapper';
import type { FhirResourceType, ResourceBase } from './fhir.types';
import { identifierLockName } from './ids';
import type { UnchangedReason, WriteOutcome } from './lab-result.writer';
import type { StoreMetrics } from './metrics';
import { indexEntries, parseReference } from './search-parameters';
import {
  type EventLedgerRow,
  type LedgerRow,
  type ResourceVersion,
  writeStatement,
  type WriteStatementResult,
} from './write.statement';

/** The event kinds fhir.event_ledger records (LabResults have fhir.message_ledger). */
export type EventKind = 'imaging-report' | 'dispense' | 'order-status' | 'charge' | 'charge-status';

/** Kinds whose events carry patient demographics (order statuses do not). */
const DEMOGRAPHIC_KINDS: readonly EventKind[] = ['imaging-report', 'dispense'];

/**
 * The EHR order a result or dispense was filed against, for the order-to-result latency: from
 * the order's authoredOn to the write that filed its first final result (or first dispense).
 */
export interface LinkedOrder {
  resourceType: 'ServiceRequest' | 'MedicationRequest';
  id: string;
  /** The order's authoredOn, when it has one. */
  authoredOn?: string;
  /** The order's request priority (routine | urgent | asap | stat), when it has one. */
  priority?: string;
  /**
   * This write filed the order's first final result (for a dispense: its first completed
   * dispense); false for later results, corrections and non-final ones. Observe latency once.
   */
  firstResult: boolean;
}

/** What every non-lab writer answers. */
export interface EventWriteReceipt {
  eventId: string;
  /** The patient the event was filed for; absent for an order without a Patient subject. */
  patientId?: string;
  /** meta.versionId of the event's main resource after the write. */
  versionId: number;
  outcome: WriteOutcome;
  /** Epoch ms: when the transaction committed (for a duplicate event: when it first did). */
  writtenAt: number;
  unchangedReason?: UnchangedReason;
  /** For a DUPLICATE_EVENT: what applying this event did the first time (from the ledger). */
  recordedOutcome?: WriteOutcome;
  /** The EHR order linked (results and dispenses), when there is one. */
  order?: LinkedOrder;
}

/** One row of fhir.event_ledger as read back. */
export interface EventLedgerEntry {
  eventId: string;
  kind: EventKind;
  sourceSystem: string;
  patientId?: string;
  resourceType: FhirResourceType;
  resourceId: string;
  versionId: number;
  outcome: WriteOutcome;
  /** The event time the out-of-order guard compares (receivedAt, or a status's occurredAt). */
  receivedAt: Date;
  writtenAt: Date;
}

export interface EventWriterOptions {
  placerOrderSystem: string;
  timeZone: string;
  logger: Logger;
  metrics: StoreMetrics;
}

export interface StoredJson {
  resourceType: FhirResourceType;
  id: string;
  versionId: number;
  content: JsonObject;
}

export interface EventLedgerJson {
  event_id: string;
  kind: EventKind;
  source_system: string;
  patient_id: string | null;
  resource_type: FhirResourceType;
  resource_id: string;
  version_id: number;
  outcome: WriteOutcome;
  received_at: string;
  written_at: string;
}

export interface EventState {
  ledger: EventLedgerJson | null;
  patient_ids: string[];
  /** Orders found by the placer identifier, by type then id. */
  orders: { resourceType: FhirResourceType; id: string }[];
  resources: StoredJson[];
  /**
   * Per loaded resource (`Type/id`, orders found included): the newest event time applied to it
   * (fhir.event_ledger), the out-of-order watermark. Read it with watermarkOf().
   */
  watermarks: Record<string, string>;
  /** Newest demographics-carrying event time applied to the patient, from both ledgers. */
  patient_watermark: Date | null;
  /** Per order found: how many final results (or completed dispenses) it already has. */
  prior_results: Record<string, number>;
}

export interface EventStateQuery {
  eventId: string;
  patientIdentifiers: readonly PatientIdentifierKey[];
  /** Orders to find by an identifier (the placer number). */
  order?: { resourceTypes: readonly FhirResourceType[]; system: string; value: string };
  /** Resources to load by id, besides the patient and the orders found. */
  wanted: readonly (readonly [FhirResourceType, string])[];
  /** Results of the orders found that already count as final: resources of this type referencing
   *  the order through this search parameter, with one of these status codes. */
  results?: { resourceType: FhirResourceType; param: string; statuses: readonly string[] };
}

const RECORDED_SQL = 'SELECT * FROM fhir.event_ledger WHERE event_id = $1';

const LOAD_SQL = `
WITH pat AS (
  SELECT DISTINCT t.id FROM fhir.search_token t
  JOIN unnest($2::text[], $3::text[]) AS q(system, code) ON t.system = q.system AND t.code = q.code
  WHERE t.resource_type = 'Patient' AND t.param = 'identifier'
), ord AS (
  SELECT DISTINCT t.resource_type, t.id FROM fhir.search_token t
  WHERE $5::text IS NOT NULL AND t.resource_type = ANY($4::text[]) AND t.param = 'identifier'
    AND t.system = $5 AND t.code = $6
), wanted AS (
  SELECT 'Patient'::text AS resource_type, id FROM pat
  UNION SELECT resource_type, id FROM ord
  UNION SELECT * FROM unnest($7::text[], $8::text[])
)
SELECT
  (SELECT to_jsonb(l) FROM fhir.event_ledger l WHERE l.event_id = $1) AS ledger,
  (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]'::jsonb) FROM pat) AS patient_ids,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('resourceType', resource_type, 'id', id)
      ORDER BY resource_type, id), '[]'::jsonb) FROM ord) AS orders,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('resourceType', r.resource_type, 'id', r.id,
      'versionId', r.version_id, 'content', r.content)), '[]'::jsonb)
   FROM fhir.resource r JOIN wanted w ON w.resource_type = r.resource_type AND w.id = r.id) AS resources,
  (SELECT coalesce(jsonb_object_agg(w.resource_type || '/' || w.id, m.at), '{}'::jsonb)
   FROM wanted w
   CROSS JOIN LATERAL (SELECT max(e.received_at) AS at FROM fhir.event_ledger e
                       WHERE e.resource_type = w.resource_type AND e.resource_id = w.id) m
   WHERE w.resource_type <> 'Patient' AND m.at IS NOT NULL) AS watermarks,
  (SELECT max(at) FROM (
     SELECT received_at AS at FROM fhir.message_ledger WHERE patient_id IN (SELECT id FROM pat)
     UNION ALL
     SELECT received_at FROM fhir.event_ledger
     WHERE patient_id IN (SELECT id FROM pat) AND kind = ANY($9::text[])
   ) p) AS patient_watermark,
  (SELECT coalesce(jsonb_object_agg(o.id, (
      SELECT count(*) FROM fhir.search_reference x
      JOIN fhir.search_token s ON s.resource_type = x.resource_type AND s.id = x.id
        AND s.param = 'status'
      WHERE x.target_type = o.resource_type AND x.target_id = o.id
        AND x.resource_type = $10 AND x.param = $11 AND s.code = ANY($12::text[]))), '{}'::jsonb)
   FROM ord o WHERE $10::text IS NOT NULL) AS prior_results`;

export const resourceKey = (type: string, id: string): string => `${type}/${id}`;

/** The receipt of an event the ledger already has: nothing is written again. */
function duplicateReceipt(row: {
  event_id: string;
  patient_id: string | null;
  version_id: number;
  outcome: WriteOutcome;
  written_at: Date | string;
}): EventWriteReceipt {
  return {
    eventId: row.event_id,
    ...(row.patient_id ? { patientId: row.patient_id } : {}),
    versionId: row.version_id,
    outcome: 'UNCHANGED',
    writtenAt: new Date(row.written_at).getTime(),
    unchangedReason: 'DUPLICATE_EVENT',
    recordedOutcome: row.outcome,
  };
}

/** Ledger fast path, before any lock: one round trip for a replayed or redelivered event. */
export async function recordedEvent(
  pool: Pool,
  eventId: string,
): Promise<{ receipt: EventWriteReceipt; entry: EventLedgerEntry } | undefined> {
  const { rows } = await pool.query<{
    event_id: string;
    kind: EventKind;
    source_system: string;
    patient_id: string | null;
    resource_type: FhirResourceType;
    resource_id: string;
    version_id: number;
    outcome: WriteOutcome;
    received_at: Date;
    written_at: Date;
  }>(RECORDED_SQL, [eventId]);
  const row = rows[0];
  if (!row) return undefined;
  return {
    receipt: duplicateReceipt(row),
    entry: {
      eventId: row.event_id,
      kind: row.kind,
      sourceSystem: row.source_system,
      ...(row.patient_id ? { patientId: row.patient_id } : {}),
      resourceType: row.resource_type,
      resourceId: row.resource_id,
      versionId: row.version_id,
      outcome: row.outcome,
      receivedAt: row.received_at,
      writtenAt: row.written_at,
    },
  };
}

/** The receipt for an event another consumer applied while this one waited for the locks. */
export function duplicateFromState(ledger: EventLedgerJson): EventWriteReceipt {
  return duplicateReceipt(ledger);
}

/** Loads everything an event needs in one round trip (inside the locked transaction). */
export async function loadEventState(
  client: PoolClient,
  query: EventStateQuery,
): Promise<EventState> {
  const { rows } = await client.query<EventState>(LOAD_SQL, [
    query.eventId,
    query.patientIdentifiers.map((i) => i.system),
    query.patientIdentifiers.map((i) => i.value),
    query.order?.resourceTypes ?? [],
    query.order?.system ?? null,
    query.order?.value ?? null,
    query.wanted.map(([t]) => t),
    query.wanted.map(([, id]) => id),
    DEMOGRAPHIC_KINDS,
    query.results?.resourceType ?? null,
    query.results?.param ?? null,
    query.results?.statuses ?? [],
  ]);
  const state = rows[0];
  // A SELECT without FROM always answers one row; no row means the driver misbehaved.
  if (!state) throw new Error('loading the repository state returned no row');
  return state;
}

/** The newest event time applied to a resource, or null when no event was. */
export function watermarkOf(state: EventState, type: FhirResourceType, id: string): Date | null {
  const at = state.watermarks[resourceKey(type, id)];
  return at ? new Date(at) : null;
}

export function storedMap(resources: readonly StoredJson[]): Map<string, StoredJson> {
  return new Map(resources.map((r) => [resourceKey(r.resourceType, r.id), r]));
}

/** Lock names of the patient identifiers (a new patient is created once by racing writers). */
export function patientLockNames(identifiers: readonly PatientIdentifierKey[]): string[] {
  return identifiers.map((i) => identifierLockName('Patient', i.system, i.value));
}

/**
 * The patient an event is filed for: the one its identifiers name, else a new one. Identifiers
 * that name two patients are refused (identifiers counted, never demographics: no PHI).
 */
export function patientFor(
  eventId: string,
  identifierCount: number,
  patientIds: readonly string[],
  newPatientId: string,
): string {
  if (patientIds.length > 1) {
    throw new PatientIdentityConflictError(
      `the ${identifierCount} patient identifiers of event ${eventId} belong to ` +
        `${patientIds.length} different patients (${patientIds.join(', ')}); ` +
        'the event needs a person to decide which chart it belongs to',
    );
  }
  return patientIds[0] ?? newPatientId;
}

/**
 * The Patient version an event asks for, or undefined when the patient has seen a newer
 * demographics-carrying event (an older message must not revert demographics).
 */
export function patientUpdate(
  options: EventWriterOptions,
  event: { eventId: string; receivedAt: number; patient: CanonicalPatient },
  identifiers: readonly PatientIdentifierKey[],
  patientId: string,
  stored: Map<string, StoredJson>,
  watermark: Date | null,
): ResourceBase | undefined {
  const storedPatient = stored.get(resourceKey('Patient', patientId));
  if (storedPatient && watermark && event.receivedAt < watermark.getTime()) return undefined;
  const update = patientFromCanonical(
    event.patient,
    identifiers,
    patientId,
    storedPatient?.content,
  );
  if (update.warnings.length > 0) {
    options.logger.warn(
      { eventId: event.eventId, patientId, problems: update.warnings },
      'patient demographics in the event could not be used',
    );
  }
  return update.patient;
}

/**
 * The ServiceRequest a result is based on: the one this repository created for the order before,
 * else the one the EHR sent (found by placer number), else a new one of this repository's.
 * `ownIsWritten` says whether the result writes the repository's own ServiceRequest.
 */
export function chooseServiceRequest(
  ownId: string | undefined,
  found: readonly string[],
  stored: Map<string, StoredJson>,
  warn: (ids: readonly string[]) => void,
): { id?: string; ownIsWritten: boolean; ehr?: StoredJson } {
  if (!ownId) {
    return { ownIsWritten: false };
  }
  const id = found[0];
  if (
    id === undefined ||
    found.includes(ownId) ||
    stored.has(resourceKey('ServiceRequest', ownId))
  ) {
    return { id: ownId, ownIsWritten: true };
  }
  if (found.length > 1) warn(found);
  const ehr = stored.get(resourceKey('ServiceRequest', id));
  return { id, ownIsWritten: false, ...(ehr ? { ehr } : {}) };
}

/** The order a receipt reports, from its stored content. */
export function linkedOrder(order: StoredJson, firstResult: boolean): LinkedOrder {
  const authoredOn = order.content['authoredOn'];
  const priority = order.content['priority'];
  return {
    resourceType:
      order.resourceType === 'MedicationRequest' ? 'MedicationRequest' : 'ServiceRequest',
    id: order.id,
    ...(typeof authoredOn === 'string' ? { authoredOn } : {}),
    ...(typeof priority === 'string' ? { priority } : {}),
    firstResult,
  };
}

/** The Patient id a stored resource's subject names, if it names one. */
export function subjectPatientId(content: JsonObject | undefined): string | undefined {
  const subject = content?.['subject'] as { reference?: unknown } | undefined;
  if (typeof subject?.reference !== 'string') return undefined;
  const parsed = parseReference(subject.reference);
  return parsed?.type === 'Patient' ? parsed.id : undefined;
}

/** Every resource the mappers build has its id; one without is a defect, not bad input. */
function resourceId(resource: ResourceBase): string {
  if (!resource.id) throw new Error(`mapped ${resource.resourceType} has no id`);
  return resource.id;
}

/**
 * The versions to write: resources whose content (meta aside) differs from what is stored, each
 * as the next version with meta set. Unchanged resources keep their version.
 */
export function versionsToWrite(
  desired: readonly ResourceBase[],
  stored: Map<string, StoredJson>,
  now: Date,
  source: string,
): ResourceVersion[] {
  const versions: ResourceVersion[] = [];
  for (const resource of desired) {
    const content = toJsonObject(resource);
    const id = resourceId(resource);
    const existing = stored.get(resourceKey(resource.resourceType, id));
    if (existing && sameContent(existing.content, content)) continue;
    const versionId = (existing?.versionId ?? 0) + 1;
    content['meta'] = { versionId: String(versionId), lastUpdated: now.toISOString(), source };
    versions.push({ resourceType: resource.resourceType, id, versionId, content, source });
  }
  return versions;
}

/**
 * Writes the versions, their index rows and the ledger row in one statement. A failed version
 * check (a writer outside these locks changed a resource meanwhile) rolls it all back as a
 * retriable conflict.
 */
export async function executeWrite(
  client: PoolClient,
  input: {
    versions: ResourceVersion[];
    now: Date;
    timeZone: string;
    ledger?: LedgerRow;
    eventLedger?: EventLedgerRow;
    metrics: StoreMetrics;
  },
): Promise<void> {
  const { versions } = input;
  const statement = writeStatement({
    versions,
    indexTargets: versions.map((v) => ({
      resourceType: v.resourceType,
      id: v.id,
      entries: indexEntries(v.resourceType, v.content),
      replaces: v.versionId > 1,
    })),
    lastUpdated: input.now,
    timeZone: input.timeZone,
    ...(input.ledger ? { ledger: input.ledger } : {}),
    ...(input.eventLedger ? { eventLedger: input.eventLedger } : {}),
  });
  const { rows } = await client.query<WriteStatementResult>(statement.text, statement.values);
  const upserted = rows[0]?.upserted ?? 0;
  const eventId = input.ledger?.eventId ?? input.eventLedger?.eventId ?? '(none)';
  if (upserted !== versions.length) {
    throw new RepositoryConflictError(
      `event ${eventId}: ${versions.length - upserted} of ${versions.length} resources ` +
        'changed concurrently; the write is rolled back and can be retried',
    );
  }
  for (const v of versions) input.metrics.versions.inc({ resource_type: v.resourceType });
}

/** Prometheus metrics of the non-lab writers (the process-wide registry). */
export function eventWriteMetrics() {
  return {
    writes: counter(
      'ancillary_fhir_store_event_writes_total',
      'Imaging reports, dispenses and order statuses applied, by kind, outcome and (for UNCHANGED) reason.',
      ['kind', 'outcome', 'reason'],
    ),
    failures: counter(
      'ancillary_fhir_store_event_write_failures_total',
      'Imaging report, dispense and order status writes that failed, by kind and error code.',
      ['kind', 'code', 'retriable'],
    ),
    seconds: histogram(
      'ancillary_fhir_store_event_write_seconds',
      'Time to apply one imaging report, dispense or order status, transaction included.',
      ['kind'],
    ),
  };
}

export type EventWriteMetrics = ReturnType<typeof eventWriteMetrics>;

/**
 * Runs one event write: retries a write that lost a race to a concurrent writer (the locks make
 * that rare; a version check backs them up), classifies failures, counts and logs outcomes.
 */
export async function runEventWrite<R extends EventWriteReceipt>(
  context: {
    kind: EventKind;
    event: { eventId: string; sourceSystem: string; messageControlId: string | null };
    logger: Logger;
    metrics: EventWriteMetrics;
    conflictAttempts: number;
  },
  write: () => Promise<R>,
): Promise<R> {
  const { kind, event, logger, metrics } = context;
  const started = performance.now();
  const where = {
    kind,
    eventId: event.eventId,
    sourceSystem: event.sourceSystem,
    ...(event.messageControlId ? { messageControlId: event.messageControlId } : {}),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const receipt = await write();
      metrics.writes.inc({ kind, outcome: receipt.outcome, reason: receipt.unchangedReason ?? '' });
      metrics.seconds.observe({ kind }, (performance.now() - started) / 1000);
      logger.debug(
        {
          ...where,
          versionId: receipt.versionId,
          outcome: receipt.outcome,
          unchangedReason: receipt.unchangedReason,
        },
        'clinical event applied',
      );
      return receipt;
    } catch (error) {
      const classified = classifyDatabaseError(error, `writing ${kind} ${event.eventId}`);
      if (classified instanceof RepositoryConflictError && attempt < context.conflictAttempts) {
        logger.info(
          { ...where, attempt, ...describeError(classified) },
          `${kind} write lost a race; trying again`,
        );
        continue;
      }
      metrics.failures.inc({
        kind,
        code: classified.code,
        retriable: String(classified.retriable),
      });
      logger.error({ ...where, attempt, ...describeError(classified) }, `${kind} write failed`);
      throw classified;
    }
  }
}
