/**
 * Ceiling (b): how many lab messages per second this machine's PostgreSQL can file, counting
 * only the rows a message produces — Patient, ServiceRequest, Specimen, one Observation per
 * result line and the DiagnosticReport, each into `fhir.resource` and `fhir.resource_history`,
 * plus one `fhir.message_ledger` row — inserted in batches, with the server's own durability
 * settings (printed with the result). No lookups, no versioning, no search-index rows: the
 * ehr-writer does all of that on top, so this is an upper bound for it.
 *
 * The rows are the real ones: the generated messages go through the normalizer's mapping
 * (@ancillary/lab-normalization) and the repository's (@ancillary/fhir-store), and the tables
 * are made by the repository's own migrations, in a scratch database created for the run and
 * dropped after it.
 */
import { payloadDigest } from '@ancillary/contracts';
import { Hl7Message } from '@ancillary/hl7-core';
import {
  DEFAULT_PLACER_ORDER_SYSTEM,
  FhirStore,
  labResultKeys,
  mapLabResult,
  messageSource,
  patientFromLabResult,
} from '@ancillary/fhir-store';
import { normalizeLabMessage } from '@ancillary/lab-normalization';
import { createPool } from '@ancillary/database';
import type { GeneratedMessage } from '@ancillary/simulators';
import type { Terminology } from '@ancillary/terminology';
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'pg';

export interface PgCeilingOptions {
  /** Any database on the server; the scratch database is created next to it. */
  databaseUrl: string;
  /** Generated results whose rows are inserted, round after round. */
  messages: readonly GeneratedMessage[];
  terminology: Terminology;
  durationMs: number;
  /** Messages per transaction; default 25. */
  batchSize?: number;
  /** Concurrent connections inserting; default 4. */
  connections?: number;
  /** Called about once a second with the messages filed so far. */
  onProgress?: (filed: number, seconds: number) => void;
  /** Problems that do not invalidate the figure (a scratch database that could not be dropped). */
  onWarning?: (text: string) => void;
}

export interface PgServerSettings {
  serverVersion: string;
  synchronousCommit: string;
  fsync: string;
  fullPageWrites: string;
  walLevel: string;
}

export interface PgCeilingResult {
  database: string;
  settings: PgServerSettings;
  batchSize: number;
  connections: number;
  seconds: number;
  messages: number;
  transactions: number;
  messagesPerSecond: number;
  /** resource + history + ledger rows per second. */
  rowsPerSecond: number;
  /** FHIR resources per message, on average over the templates. */
  resourcesPerMessage: number;
  /** Rows per message: 2 per resource + 1 ledger row. */
  rowsPerMessage: number;
  /** JSON bytes per message (content of the resources, once). */
  jsonBytesPerMessage: number;
}

interface ResourceRow {
  type: string;
  id: string;
  content: string;
}

interface MessageRows {
  controlId: string;
  patientId: string;
  reportId: string;
  observationCount: number;
  source: string;
  resources: ResourceRow[];
}

export class PgCeilingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PgCeilingError';
  }
}

/** The rows each message produces, through the platform's own mappings. */
export function rowsFor(
  messages: readonly GeneratedMessage[],
  terminology: Terminology,
  sourceSystem = 'lis-main',
): MessageRows[] {
  const out: MessageRows[] = [];
  for (const message of messages) {
    if (!message.reachesChart) continue;
    const hl7 = Hl7Message.parse(message.bytes);
    const results = normalizeLabMessage(
      hl7,
      {
        sourceSystem,
        envelopeId: randomUUID(),
        receivedAt: Date.now(),
        payloadDigest: payloadDigest(message.bytes),
      },
      terminology,
    );
    for (const result of results) {
      const keys = labResultKeys(result, DEFAULT_PLACER_ORDER_SYSTEM);
      const patientId = keys.newPatientId;
      const { patient } = patientFromLabResult(result, keys, patientId);
      const resources = mapLabResult(result, keys, {
        patientId,
        ...(keys.serviceRequestId ? { serviceRequestId: keys.serviceRequestId } : {}),
      });
      const source = messageSource(sourceSystem, result.messageControlId);
      const meta = { versionId: '1', lastUpdated: new Date().toISOString(), source };
      const list = [
        patient,
        ...(resources.serviceRequest ? [resources.serviceRequest] : []),
        ...(resources.specimen ? [resources.specimen] : []),
        ...resources.observations,
        resources.report,
      ];
      out.push({
        controlId: result.messageControlId,
        patientId,
        reportId: keys.diagnosticReportId,
        observationCount: resources.observations.length,
        source,
        resources: list.map((r) => ({
          type: r.resourceType,
          id: r.id ?? randomUUID(),
          content: JSON.stringify({ ...r, meta }),
        })),
      });
    }
  }
  if (out.length === 0) throw new PgCeilingError('no result messages to build rows from');
  return out;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function readSettings(pool: Pool): Promise<PgServerSettings> {
  const show = async (name: string): Promise<string> =>
    (await pool.query<Record<string, string>>(`SHOW ${name}`)).rows[0]?.[name] ?? '?';
  return {
    serverVersion: await show('server_version'),
    synchronousCommit: await show('synchronous_commit'),
    fsync: await show('fsync'),
    fullPageWrites: await show('full_page_writes'),
    walLevel: await show('wal_level'),
  };
}

/**
 * Inserts one batch of messages in one transaction. Every id gets the message's own `suffix`:
 * the same patient and order come round again, and each round must be new rows.
 */
async function insertBatch(
  pool: Pool,
  batch: readonly { rows: MessageRows; suffix: string }[],
): Promise<number> {
  const now = new Date().toISOString();
  const types: string[] = [];
  const ids: string[] = [];
  const contents: string[] = [];
  const sources: string[] = [];
  for (const { rows: m, suffix } of batch) {
    for (const r of m.resources) {
      types.push(r.type);
      ids.push(`${r.id}-${suffix}`);
      contents.push(r.content);
      sources.push(m.source);
    }
  }
  const n = types.length;
  const versions = new Array<number>(n).fill(1);
  const times = new Array<string>(n).fill(now);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO fhir.resource (resource_type, id, version_id, last_updated, content)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::jsonb[])`,
      [types, ids, versions, times, contents],
    );
    await client.query(
      `INSERT INTO fhir.resource_history (resource_type, id, version_id, last_updated, content, source)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::jsonb[], $6::text[])`,
      [types, ids, versions, times, contents, sources],
    );
    await client.query(
      `INSERT INTO fhir.message_ledger (event_id, source_system, message_control_id, order_index,
         patient_id, report_id, report_version, outcome, received_at, observation_count)
       SELECT e, 'lis-main', c, 0, p, r, 1, 'CREATED', $5::timestamptz, o
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $6::int[]) AS t(e, c, p, r, o)`,
      [
        batch.map(() => randomUUID()),
        batch.map((m) => `${m.rows.controlId}-${m.suffix}`),
        batch.map((m) => `${m.rows.patientId}-${m.suffix}`),
        batch.map((m) => `${m.rows.reportId}-${m.suffix}`),
        now,
        batch.map((m) => m.rows.observationCount),
      ],
    );
    await client.query('COMMIT');
    return 2 * n + batch.length;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export async function measurePostgresCeiling(options: PgCeilingOptions): Promise<PgCeilingResult> {
  const batchSize = options.batchSize ?? 25;
  const connections = options.connections ?? 4;
  const rows = rowsFor(options.messages, options.terminology);
  const database = `bench_e2e_${randomBytes(4).toString('hex')}`;
  const admin = createPool({
    databaseUrl: options.databaseUrl,
    maxConnections: 1,
    applicationName: 'bench-e2e',
  });
  try {
    try {
      await admin.query(`CREATE DATABASE ${database}`);
    } catch (error) {
      throw new PgCeilingError(
        `cannot create the scratch database on ${new URL(options.databaseUrl).host}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    const pool = createPool({
      databaseUrl: withDatabase(options.databaseUrl, database),
      maxConnections: connections,
      applicationName: 'bench-e2e',
      statementTimeoutMs: 120_000,
    });
    try {
      await new FhirStore(pool).migrate();
      const settings = await readSettings(pool);
      let next = 0;
      const take = (): { rows: MessageRows; suffix: string }[] => {
        const batch: { rows: MessageRows; suffix: string }[] = [];
        for (let i = 0; i < batchSize; i++, next++) {
          const message = rows[next % rows.length];
          if (message) batch.push({ rows: message, suffix: next.toString(36) });
        }
        return batch;
      };
      // warm-up: one batch per connection (connections opened, plans cached), not timed
      await Promise.all(Array.from({ length: connections }, () => insertBatch(pool, take())));
      let messages = 0;
      let rowCount = 0;
      let transactions = 0;
      let resourcesTimed = 0;
      const started = performance.now();
      const deadline = started + options.durationMs;
      let lastReport = started;
      const worker = async (): Promise<void> => {
        while (performance.now() < deadline) {
          const batch = take();
          // not `rowCount += await …`: that reads rowCount before the await, and the other
          // workers' additions in between would be lost
          const inserted = await insertBatch(pool, batch);
          rowCount += inserted;
          messages += batch.length;
          resourcesTimed += batch.reduce((sum, m) => sum + m.rows.resources.length, 0);
          transactions += 1;
          const now = performance.now();
          if (now - lastReport >= 1000) {
            lastReport = now;
            options.onProgress?.(messages, (now - started) / 1000);
          }
        }
      };
      await Promise.all(Array.from({ length: connections }, worker));
      const seconds = (performance.now() - started) / 1000;
      // Of the messages timed (a run covers part of the sample's cycle, whose messages differ
      // in size), so that rows/s over messages/s is exactly what each message wrote.
      const resourcesPerMessage =
        messages > 0
          ? resourcesTimed / messages
          : rows.reduce((s, m) => s + m.resources.length, 0) / rows.length;
      const jsonBytesPerMessage =
        rows.reduce(
          (s, m) => s + m.resources.reduce((t, r) => t + Buffer.byteLength(r.content), 0),
          0,
        ) / rows.length;
      return {
        database,
        settings,
        batchSize,
        connections,
        seconds,
        messages,
        transactions,
        messagesPerSecond: messages / seconds,
        rowsPerSecond: rowCount / seconds,
        resourcesPerMessage,
        rowsPerMessage: 2 * resourcesPerMessage + 1,
        jsonBytesPerMessage,
      };
    } finally {
      await pool.end();
    }
  } finally {
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } catch (error) {
      // the measurement stands; say what is left behind instead of hiding it
      options.onWarning?.(
        `could not drop the scratch database ${database}: ${error instanceof Error ? error.message : String(error)}; drop it by hand`,
      );
    } finally {
      await admin.end();
    }
  }
}
