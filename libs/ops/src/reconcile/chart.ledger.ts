/**
 * What the clinical repository says was applied, read in batches: the ehr-writer's message
 * ledger (one row per LabResult applied) and the DiagnosticReport versions in its resource
 * history. Tables (created by the fhir-store migrations):
 *   fhir.message_ledger(event_id text PK, source_system, message_control_id, order_index int,
 *     patient_id, report_id, report_version int, outcome text, received_at timestamptz, written_at timestamptz)
 *   fhir.resource_history(resource_type, id, version_id, last_updated, content jsonb, source)
 */
import type { Pool } from 'pg';
import { ChartQueryError } from '../ops.errors';

export interface LedgerRow {
  eventId: string;
  orderIndex: number | null;
  reportId: string | null;
  reportVersion: number | null;
  outcome: string | null;
}

export interface LedgerMessageRow {
  eventId: string;
  sourceSystem: string;
  messageControlId: string;
  orderIndex: number | null;
  receivedAt: Date | null;
}

export interface ChartLookup {
  ledger: Map<string, LedgerRow>;
  /** `reportKey(id, version)` of every DiagnosticReport version present. */
  reports: Set<string>;
}

export function reportKey(id: string, version: number | string): string {
  return `${id}\u0000${String(version)}`;
}

interface LedgerSqlRow {
  event_id: string;
  order_index: number | null;
  report_id: string | null;
  report_version: number | null;
  outcome: string | null;
}

interface HistorySqlRow {
  id: string;
  version: string;
}

interface LedgerMessageSqlRow {
  event_id: string;
  source_system: string;
  message_control_id: string;
  order_index: number | null;
  received_at: Date | null;
}

export class ChartLedger {
  constructor(private readonly pool: Pool) {}

  /** Ledger rows of `eventIds` and the DiagnosticReport versions they name: two queries. */
  async lookup(eventIds: readonly string[]): Promise<ChartLookup> {
    const ledger = new Map<string, LedgerRow>();
    const reports = new Set<string>();
    if (eventIds.length === 0) return { ledger, reports };
    const ledgerRows = await this.query<LedgerSqlRow>(
      'reading fhir.message_ledger',
      `SELECT event_id, order_index, report_id::text AS report_id, report_version, outcome
         FROM fhir.message_ledger
        WHERE event_id = ANY($1::text[])`,
      [eventIds],
    );
    for (const row of ledgerRows) {
      ledger.set(row.event_id, {
        eventId: row.event_id,
        orderIndex: row.order_index,
        reportId: row.report_id,
        reportVersion: row.report_version,
        outcome: row.outcome,
      });
    }
    const reportIds = [
      ...new Set(ledgerRows.flatMap((r) => (r.report_id !== null ? [r.report_id] : []))),
    ];
    if (reportIds.length > 0) {
      const history = await this.query<HistorySqlRow>(
        'reading fhir.resource_history',
        `SELECT id::text AS id, version_id::text AS version
           FROM fhir.resource_history
          WHERE resource_type = 'DiagnosticReport' AND id = ANY($1::text[])`,
        [reportIds],
      );
      for (const row of history) reports.add(reportKey(row.id, row.version));
    }
    return { ledger, reports };
  }

  /**
   * Ledger rows received in [since, until), optionally of one source system, page by page
   * (keyset on event_id) so that a long window never sits in memory at once.
   */
  async *rowsReceivedBetween(
    since: Date,
    until: Date,
    sourceSystem?: string,
    pageSize = 5_000,
  ): AsyncGenerator<LedgerMessageRow[]> {
    let after = '';
    for (;;) {
      const rows = await this.query<LedgerMessageSqlRow>(
        'reading fhir.message_ledger by receipt time',
        `SELECT event_id, source_system, message_control_id, order_index, received_at
           FROM fhir.message_ledger
          WHERE received_at >= $1 AND received_at < $2
            AND ($3::text IS NULL OR source_system = $3)
            AND event_id > $4
          ORDER BY event_id
          LIMIT $5`,
        [since, until, sourceSystem ?? null, after, pageSize],
      );
      if (rows.length === 0) return;
      yield rows.map((r) => ({
        eventId: r.event_id,
        sourceSystem: r.source_system,
        messageControlId: r.message_control_id,
        orderIndex: r.order_index,
        receivedAt: r.received_at,
      }));
      if (rows.length < pageSize) return;
      after = rows.at(-1)?.event_id ?? after;
    }
  }

  private async query<R>(doing: string, sql: string, params: unknown[]): Promise<R[]> {
    try {
      const result = await this.pool.query(sql, params);
      return result.rows as R[];
    } catch (error) {
      throw new ChartQueryError(
        `${doing} failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
}
