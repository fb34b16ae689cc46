/**
 * One statement that writes everything a change produces: the new resource versions (current
 * row and history), their search index rows, and the ledger row (fhir.message_ledger for a
 * LabResult, fhir.event_ledger for the other canonical events). Rows travel as JSON arrays
 * unpacked with jsonb_to_recordset, so a result with twenty observations is still one round
 * trip, whatever its size.
 *
 * Old index rows are looked for only for resources that had a version before (a new resource has
 * none), and the targets travel as arrays unpacked with unnest, whose length the planner knows:
 * unpacked from JSON instead (estimated at 100 rows whatever the size), a fresh table without
 * statistics got scanned whole on every write.
 *
 * Index rows are rewritten as a difference (delete what the new version no longer has, insert
 * what it adds) rather than delete-all-then-insert: the sub-statements of one WITH run on one
 * snapshot in no set order, and a delete and an insert of the same key would meet the unique
 * patient-identifier index in whichever order PostgreSQL picks.
 */
import type { JsonObject } from './content';
import type { IndexEntries } from './search-parameters';

export interface ResourceVersion {
  resourceType: string;
  id: string;
  versionId: number;
  /** The content with its meta (versionId, lastUpdated, source) already set. */
  content: JsonObject;
  source: string | null;
}

export interface IndexTarget {
  resourceType: string;
  id: string;
  entries: IndexEntries;
  /** False for a resource's first version: it has no index rows yet to replace. */
  replaces: boolean;
}

export interface LedgerRow {
  eventId: string;
  sourceSystem: string;
  messageControlId: string;
  orderIndex: number;
  patientId: string;
  reportId: string;
  reportVersion: number;
  outcome: 'CREATED' | 'UPDATED' | 'UNCHANGED';
  receivedAt: Date;
  observationCount: number;
}

/** One row of fhir.event_ledger: how a canonical event other than a LabResult was applied. */
export interface EventLedgerRow {
  eventId: string;
  /** `imaging-report` | `dispense` | `order-status`. */
  kind: string;
  sourceSystem: string;
  patientId: string | null;
  /** The resource the event is about (the report, the dispense, the order) and its version after. */
  resourceType: string;
  resourceId: string;
  versionId: number;
  outcome: 'CREATED' | 'UPDATED' | 'UNCHANGED';
  /** The event's time for the out-of-order guard: receivedAt, or occurredAt of a status. */
  receivedAt: Date;
}

export interface WriteStatementInput {
  versions: ResourceVersion[];
  /** Resources whose index rows are replaced by `entries` (every new version, or a reindex). */
  indexTargets: IndexTarget[];
  lastUpdated: Date;
  timeZone: string;
  ledger?: LedgerRow;
  eventLedger?: EventLedgerRow;
}

const SQL = `
WITH
  v AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
      AS x(resource_type text, id text, version_id int, content jsonb, source text)
  ),
  upserted AS (
    INSERT INTO fhir.resource AS r (resource_type, id, version_id, last_updated, content)
    SELECT resource_type, id, version_id, $2::timestamptz, content FROM v
    ON CONFLICT (resource_type, id) DO UPDATE
      SET version_id = EXCLUDED.version_id,
          last_updated = EXCLUDED.last_updated,
          content = EXCLUDED.content
      -- Optimistic check behind the advisory locks: only the next version replaces the current one.
      WHERE r.version_id = EXCLUDED.version_id - 1
    RETURNING 1
  ),
  history AS (
    INSERT INTO fhir.resource_history (resource_type, id, version_id, last_updated, content, source)
    SELECT resource_type, id, version_id, $2::timestamptz, content, source FROM v
    RETURNING 1
  ),
  targets AS (
    SELECT * FROM unnest($3::text[], $9::text[]) AS x(resource_type, id)
  ),
  tok AS (
    SELECT * FROM jsonb_to_recordset($4::jsonb)
      AS x(resource_type text, id text, param text, system text, code text)
  ),
  tok_del AS (
    DELETE FROM fhir.search_token s USING targets t
    WHERE s.resource_type = t.resource_type AND s.id = t.id
      AND NOT EXISTS (
        SELECT 1 FROM tok n
        WHERE n.resource_type = s.resource_type AND n.id = s.id AND n.param = s.param
          AND n.system = s.system AND n.code = s.code)
    RETURNING 1
  ),
  tok_ins AS (
    INSERT INTO fhir.search_token (resource_type, id, param, system, code)
    SELECT resource_type, id, param, system, code FROM tok
    ON CONFLICT (resource_type, id, param, system, code) DO NOTHING
    RETURNING 1
  ),
  ref AS (
    SELECT * FROM jsonb_to_recordset($5::jsonb)
      AS x(resource_type text, id text, param text, target_type text, target_id text)
  ),
  ref_del AS (
    DELETE FROM fhir.search_reference s USING targets t
    WHERE s.resource_type = t.resource_type AND s.id = t.id
      AND NOT EXISTS (
        SELECT 1 FROM ref n
        WHERE n.resource_type = s.resource_type AND n.id = s.id AND n.param = s.param
          AND n.target_type = s.target_type AND n.target_id = s.target_id)
    RETURNING 1
  ),
  ref_ins AS (
    INSERT INTO fhir.search_reference (resource_type, id, param, target_type, target_id)
    SELECT resource_type, id, param, target_type, target_id FROM ref
    ON CONFLICT (resource_type, id, param, target_type, target_id) DO NOTHING
    RETURNING 1
  ),
  dat AS (
    SELECT resource_type, id, param, fhir.date_bound(low, $6) AS low, fhir.date_bound(high, $6) AS high
    FROM jsonb_to_recordset($7::jsonb)
      AS x(resource_type text, id text, param text, low text, high text)
  ),
  dat_del AS (
    DELETE FROM fhir.search_date s USING targets t
    WHERE s.resource_type = t.resource_type AND s.id = t.id
      AND NOT EXISTS (
        SELECT 1 FROM dat n
        WHERE n.resource_type = s.resource_type AND n.id = s.id AND n.param = s.param
          AND n.low = s.low AND n.high = s.high)
    RETURNING 1
  ),
  dat_ins AS (
    INSERT INTO fhir.search_date (resource_type, id, param, low, high)
    SELECT resource_type, id, param, low, high FROM dat
    ON CONFLICT (resource_type, id, param, low, high) DO NOTHING
    RETURNING 1
  ),
  ledger AS (
    INSERT INTO fhir.message_ledger (event_id, source_system, message_control_id, order_index,
      patient_id, report_id, report_version, outcome, received_at, observation_count)
    SELECT event_id, source_system, message_control_id, order_index, patient_id, report_id,
      report_version, outcome, received_at, observation_count
    FROM jsonb_to_recordset($8::jsonb) AS x(event_id text, source_system text,
      message_control_id text, order_index int, patient_id text, report_id text,
      report_version int, outcome text, received_at timestamptz, observation_count int)
    RETURNING written_at
  ),
  event_ledger AS (
    INSERT INTO fhir.event_ledger (event_id, kind, source_system, patient_id, resource_type,
      resource_id, version_id, outcome, received_at)
    SELECT event_id, kind, source_system, patient_id, resource_type, resource_id, version_id,
      outcome, received_at
    FROM jsonb_to_recordset($10::jsonb) AS x(event_id text, kind text, source_system text,
      patient_id text, resource_type text, resource_id text, version_id int, outcome text,
      received_at timestamptz)
    RETURNING written_at
  )
SELECT (SELECT count(*) FROM upserted)::int AS upserted,
       (SELECT max(written_at) FROM (SELECT written_at FROM ledger
          UNION ALL SELECT written_at FROM event_ledger) w) AS written_at`;

export interface WriteStatementResult {
  upserted: number;
  written_at: Date | null;
}

export function writeStatement(input: WriteStatementInput): { text: string; values: unknown[] } {
  const versions = input.versions.map((v) => ({
    resource_type: v.resourceType,
    id: v.id,
    version_id: v.versionId,
    content: v.content,
    source: v.source,
  }));
  const replaced = input.indexTargets.filter((t) => t.replaces);
  const targetTypes = replaced.map((t) => t.resourceType);
  const targetIds = replaced.map((t) => t.id);
  const tokens = input.indexTargets.flatMap((t) =>
    t.entries.tokens.map((e) => ({ resource_type: t.resourceType, id: t.id, ...e })),
  );
  const references = input.indexTargets.flatMap((t) =>
    t.entries.references.map((e) => ({
      resource_type: t.resourceType,
      id: t.id,
      param: e.param,
      target_type: e.targetType,
      target_id: e.targetId,
    })),
  );
  const dates = input.indexTargets.flatMap((t) =>
    t.entries.dates.map((e) => ({ resource_type: t.resourceType, id: t.id, ...e })),
  );
  const ledger = input.ledger
    ? [
        {
          event_id: input.ledger.eventId,
          source_system: input.ledger.sourceSystem,
          message_control_id: input.ledger.messageControlId,
          order_index: input.ledger.orderIndex,
          patient_id: input.ledger.patientId,
          report_id: input.ledger.reportId,
          report_version: input.ledger.reportVersion,
          outcome: input.ledger.outcome,
          received_at: input.ledger.receivedAt.toISOString(),
          observation_count: input.ledger.observationCount,
        },
      ]
    : [];
  const eventLedger = input.eventLedger
    ? [
        {
          event_id: input.eventLedger.eventId,
          kind: input.eventLedger.kind,
          source_system: input.eventLedger.sourceSystem,
          patient_id: input.eventLedger.patientId,
          resource_type: input.eventLedger.resourceType,
          resource_id: input.eventLedger.resourceId,
          version_id: input.eventLedger.versionId,
          outcome: input.eventLedger.outcome,
          received_at: input.eventLedger.receivedAt.toISOString(),
        },
      ]
    : [];
  return {
    text: SQL,
    values: [
      JSON.stringify(versions),
      input.lastUpdated,
      targetTypes,
      JSON.stringify(tokens),
      JSON.stringify(references),
      input.timeZone,
      JSON.stringify(dates),
      JSON.stringify(ledger),
      targetIds,
      JSON.stringify(eventLedger),
    ],
  };
}
