/**
 * A scratch clinical repository for the ops tests: a database of its own on the stack's
 * PostgreSQL (created here, dropped after), with the two tables the reconcile reads, column for
 * column as the fhir-store migrations define them.
 */
import { labResultEventId, type LabResult } from '@ancillary/contracts';
import { createPool } from '@ancillary/database';
import { uniqueName } from '@ancillary/testing';
import { digestOf } from './hl7.fixtures';
import type { Pool } from 'pg';

export interface ScratchChart {
  /** Connection URL of the scratch database (for a child process). */
  url: string;
  pool: Pool;
  /** Ledger row + DiagnosticReport history for one order group of a message. */
  applied(row: AppliedRow): Promise<void>;
  drop(): Promise<void>;
}

export interface AppliedRow {
  sourceSystem: string;
  messageControlId: string;
  orderIndex: number;
  receivedAt: Date;
  /** The version the ledger names (default 1). */
  reportVersion?: number;
  /** Versions present in resource_history (default: 1..reportVersion). */
  historyVersions?: number[];
}

const DDL = `
  CREATE SCHEMA fhir;
  CREATE TABLE fhir.message_ledger (
    event_id text PRIMARY KEY,
    source_system text NOT NULL,
    message_control_id text NOT NULL,
    order_index int NOT NULL,
    patient_id text,
    report_id text,
    report_version int,
    outcome text,
    received_at timestamptz,
    written_at timestamptz
  );
  CREATE TABLE fhir.resource_history (
    resource_type text NOT NULL,
    id text NOT NULL,
    version_id int NOT NULL,
    last_updated timestamptz NOT NULL,
    content jsonb NOT NULL,
    source text,
    PRIMARY KEY (resource_type, id, version_id)
  );
`;

export async function createScratchChart(databaseUrl: string): Promise<ScratchChart> {
  const name = uniqueName('ops_chart').replace(/-/g, '_');
  const admin = createPool({ databaseUrl, maxConnections: 1, applicationName: 'ops-test' });
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  const pool = createPool({
    databaseUrl: url.toString(),
    maxConnections: 2,
    applicationName: 'ops-test',
  });
  await pool.query(DDL);
  return {
    url: url.toString(),
    pool,
    async applied(row) {
      const eventId = labResultEventId(
        row.sourceSystem,
        row.messageControlId,
        row.orderIndex,
        digestOf(row.sourceSystem, row.messageControlId),
      );
      const reportId = `dr-${eventId.slice(0, 13)}`;
      const version = row.reportVersion ?? 1;
      await pool.query(
        `INSERT INTO fhir.message_ledger
           (event_id, source_system, message_control_id, order_index, patient_id, report_id,
            report_version, outcome, received_at, written_at)
         VALUES ($1, $2, $3, $4, 'pat-1', $5, $6, 'applied', $7, now())`,
        [
          eventId,
          row.sourceSystem,
          row.messageControlId,
          row.orderIndex,
          reportId,
          version,
          row.receivedAt,
        ],
      );
      for (const v of row.historyVersions ?? Array.from({ length: version }, (_x, i) => i + 1)) {
        await pool.query(
          `INSERT INTO fhir.resource_history (resource_type, id, version_id, last_updated, content, source)
           VALUES ('DiagnosticReport', $1, $2, now(), $3, 'ehr-writer')`,
          [
            reportId,
            v,
            JSON.stringify({
              resourceType: 'DiagnosticReport',
              id: reportId,
              meta: { versionId: String(v) },
            }),
          ],
        );
      }
    },
    async drop() {
      await pool.end();
      const again = createPool({ databaseUrl, maxConnections: 1, applicationName: 'ops-test' });
      try {
        await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await again.end();
      }
    },
  };
}

/** A minimal valid LabResult for one order group (for the results dead-letter topic). */
export function labResult(
  sourceSystem: string,
  messageControlId: string,
  orderIndex: number,
): LabResult {
  return {
    eventId: labResultEventId(
      sourceSystem,
      messageControlId,
      orderIndex,
      digestOf(sourceSystem, messageControlId),
    ),
    sourceSystem,
    messageControlId,
    orderIndex,
    envelopeId: null,
    receivedAt: Date.now(),
    patient: {
      identifiers: [{ value: 'MRN-TEST-1', system: 'TESTHOSP', type: 'MR' }],
      familyName: 'TESTPATIENT',
      givenNames: ['ALEX'],
      birthDate: null,
      administrativeSex: null,
    },
    order: {
      placerOrderNumber: `PLC${orderIndex}`,
      fillerOrderNumber: `FIL${orderIndex}`,
      code: { system: 'http://loinc.org', code: '2345-7', display: 'Glucose' },
      localCode: null,
      priority: null,
      orderingProvider: null,
    },
    specimen: null,
    status: 'FINAL',
    highPriority: false,
    effectiveAt: null,
    issuedAt: null,
    observations: [],
    notes: [],
    visit: null,
  };
}
