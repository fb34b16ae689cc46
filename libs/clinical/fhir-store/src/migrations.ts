/**
 * The repository's schema, as ordered migrations recorded in `fhir.schema_migrations`. Every
 * replica runs `migrate()` at start-up; a transaction-scoped advisory lock makes the second of
 * two replicas starting together wait and then find nothing left to do. Migrations are
 * append-only: a released one is never edited, a change is a new one.
 */
import type { Logger } from '@ancillary/observability';
import type { Pool } from 'pg';
import { advisoryLockKey } from './ids';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'resources, history and message ledger',
    sql: `
      -- The current version of every resource.
      CREATE TABLE fhir.resource (
        resource_type text NOT NULL,
        id            text NOT NULL,
        version_id    int  NOT NULL,
        last_updated  timestamptz NOT NULL,
        content       jsonb NOT NULL,
        PRIMARY KEY (resource_type, id)
      );
      CREATE INDEX resource_last_updated_idx ON fhir.resource (resource_type, last_updated DESC, id);

      -- Every version, the current one included; source is meta.source of that version.
      CREATE TABLE fhir.resource_history (
        resource_type text NOT NULL,
        id            text NOT NULL,
        version_id    int  NOT NULL,
        last_updated  timestamptz NOT NULL,
        content       jsonb NOT NULL,
        source        text,
        PRIMARY KEY (resource_type, id, version_id)
      );

      -- One row per LabResult event applied: the idempotency ledger, and the judge the
      -- reconcile command asks whether a message reached the chart.
      CREATE TABLE fhir.message_ledger (
        event_id           text PRIMARY KEY,
        source_system      text NOT NULL,
        message_control_id text NOT NULL,
        order_index        int  NOT NULL,
        patient_id         text NOT NULL,
        report_id          text NOT NULL,
        report_version     int  NOT NULL,
        outcome            text NOT NULL CHECK (outcome IN ('CREATED', 'UPDATED', 'UNCHANGED')),
        received_at        timestamptz NOT NULL,
        written_at         timestamptz NOT NULL DEFAULT now(),
        observation_count  int NOT NULL DEFAULT 0
      );
      CREATE INDEX message_ledger_control_id_idx ON fhir.message_ledger (source_system, message_control_id);
      -- The out-of-order guards read the newest event per report and per patient.
      CREATE INDEX message_ledger_report_idx ON fhir.message_ledger (report_id, received_at DESC);
      CREATE INDEX message_ledger_patient_idx ON fhir.message_ledger (patient_id, received_at DESC);
    `,
  },
  {
    version: 2,
    name: 'search indexes',
    sql: `
      -- Token parameters (identifier, code, status, category, type): system '' when absent.
      CREATE TABLE fhir.search_token (
        resource_type text NOT NULL,
        id            text NOT NULL,
        param         text NOT NULL,
        system        text NOT NULL,
        code          text NOT NULL,
        PRIMARY KEY (resource_type, id, param, system, code)
      );
      CREATE INDEX search_token_lookup_idx ON fhir.search_token (resource_type, param, code, system) INCLUDE (id);
      -- A patient identifier names one patient: the last line of defence against duplicates.
      CREATE UNIQUE INDEX search_token_patient_identifier_uq ON fhir.search_token (system, code)
        WHERE resource_type = 'Patient' AND param = 'identifier';

      -- Reference parameters (subject, result, based-on, specimen).
      CREATE TABLE fhir.search_reference (
        resource_type text NOT NULL,
        id            text NOT NULL,
        param         text NOT NULL,
        target_type   text NOT NULL,
        target_id     text NOT NULL,
        PRIMARY KEY (resource_type, id, param, target_type, target_id)
      );
      CREATE INDEX search_reference_target_idx
        ON fhir.search_reference (target_type, target_id, param, resource_type) INCLUDE (id);

      -- Date parameters as [low, high) instants; a partial date covers its whole period.
      CREATE TABLE fhir.search_date (
        resource_type text NOT NULL,
        id            text NOT NULL,
        param         text NOT NULL,
        low           timestamptz NOT NULL,
        high          timestamptz NOT NULL,
        PRIMARY KEY (resource_type, id, param, low, high)
      );
      CREATE INDEX search_date_range_idx ON fhir.search_date (resource_type, param, low, high) INCLUDE (id);

      -- A FHIR date/dateTime bound as an instant: with its own offset when it has one, in the
      -- repository's time zone when it has none (a date such as 2024-03-05 is a local day).
      CREATE FUNCTION fhir.date_bound(value text, zone text) RETURNS timestamptz
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
          SELECT CASE
            WHEN value ~ '(Z|[+-][0-9]{2}:[0-9]{2})$' THEN value::timestamptz
            ELSE value::timestamp AT TIME ZONE zone
          END
        $$;
    `,
  },
  {
    version: 3,
    name: 'order outbox and event ledger',
    sql: `
      -- Events to publish, written in the same transaction as the order they announce (a
      -- transactional outbox): an order stored is an order sent, even if Kafka was down.
      CREATE TABLE fhir.outbox (
        seq          bigserial PRIMARY KEY,
        event_id     text NOT NULL UNIQUE,
        topic        text NOT NULL,
        message_key  text NOT NULL,
        payload      jsonb NOT NULL,
        headers      jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at   timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
      );
      CREATE INDEX outbox_unpublished_idx ON fhir.outbox (seq) WHERE published_at IS NULL;

      -- One row per canonical event other than LabResult (imaging report, dispense, order
      -- status) applied to the chart: idempotency, and the reconcile judge for those flows.
      CREATE TABLE fhir.event_ledger (
        event_id      text PRIMARY KEY,
        kind          text NOT NULL,
        source_system text NOT NULL,
        patient_id    text,
        resource_type text NOT NULL,
        resource_id   text NOT NULL,
        version_id    int  NOT NULL,
        outcome       text NOT NULL CHECK (outcome IN ('CREATED', 'UPDATED', 'UNCHANGED')),
        received_at   timestamptz NOT NULL,
        written_at    timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX event_ledger_resource_idx ON fhir.event_ledger (resource_type, resource_id);
    `,
  },
  {
    version: 4,
    name: 'event ledger patient index',
    sql: `
      -- The patient demographics guard reads the newest event per patient from both ledgers.
      CREATE INDEX event_ledger_patient_idx ON fhir.event_ledger (patient_id, received_at DESC);
    `,
  },
  {
    version: 5,
    name: 'charge status',
    sql: `
      -- What decides a ChargeItem's status, per CHARGE line (its ChargeEvent id), kept apart
      -- from the resource so that the billing engine's answer or a credit that arrives before
      -- the charge itself is not lost: the ChargeItem is entered-in-error once reversed, else
      -- the engine's latest answer (billed | aborted), else billable.
      CREATE TABLE fhir.charge_status (
        charge_event_id   text PRIMARY KEY,
        engine_status     text CHECK (engine_status IN ('billed', 'aborted')),
        engine_decided_at timestamptz,
        engine_event_id   text,
        reversed_by       text,
        updated_at        timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

const MIGRATION_LOCK = advisoryLockKey('fhir.schema_migrations');

/**
 * Applies every migration the database does not have yet, in one transaction under an
 * advisory lock. Returns the versions applied (empty when the schema was current).
 */
export async function runMigrations(
  pool: Pool,
  logger: Logger,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const client = await pool.connect();
  let failed: unknown;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
    await client.query('CREATE SCHEMA IF NOT EXISTS fhir');
    await client.query(`
      CREATE TABLE IF NOT EXISTS fhir.schema_migrations (
        version    int PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM fhir.schema_migrations',
    );
    const applied = new Set(rows.map((r) => r.version));
    const known = new Set(migrations.map((m) => m.version));
    const unknown = [...applied].filter((v) => !known.has(v));
    if (unknown.length > 0) {
      // A newer release migrated this database; this one keeps working on the columns it knows
      // (migrations only add), which is what a rolling deployment or a rollback needs.
      logger.warn(
        { unknownVersions: unknown.sort((a, b) => a - b) },
        'the repository schema has migrations this release does not know',
      );
    }
    const done: number[] = [];
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO fhir.schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      done.push(migration.version);
    }
    await client.query('COMMIT');
    if (done.length > 0) logger.info({ versions: done }, 'repository schema migrated');
    return done;
  } catch (error) {
    failed = error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release(failed instanceof Error ? failed : undefined);
  }
}
