/**
 * The LabResult writer against the real PostgreSQL of the stack, in a database of its own:
 * what a first write creates, that replays and duplicates change nothing, that corrections
 * version the same resources, that patients are matched and never duplicated (also by two
 * writers at once), that an older message never reverts a newer one, and how failures are
 * classified.
 */
import { createPool } from '@ancillary/database';
import { captureLogger } from '@ancillary/testing';
import type { Pool } from 'pg';
import { labResult, observation } from '../test/lab-result.fixture';
import { createScratchDatabase, type ScratchDatabase } from '@ancillary/testing';
import {
  InvalidLabResultError,
  PatientIdentityConflictError,
  RepositoryDataError,
  RepositoryUnavailableError,
} from './errors';
import { FhirStore } from './fhir.store';
import { DEFAULT_PLACER_ORDER_SYSTEM, labResultKeys } from './lab-result.mapper';
import { MIGRATIONS } from './migrations';

let db: ScratchDatabase;
let pool: Pool;
let store: FhirStore;
const captured = captureLogger('fhir-store-int', 'debug');

beforeAll(async () => {
  db = await createScratchDatabase();
  pool = db.pool(8);
  store = new FhirStore(pool, { logger: captured.logger });
  await store.migrate();
});

afterAll(async () => {
  await db.drop();
});

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, values);
  return rows[0]!.n;
}

async function versionsOf(type: string, id: string): Promise<number[]> {
  const { rows } = await pool.query<{ version_id: number }>(
    'SELECT version_id FROM fhir.resource_history WHERE resource_type = $1 AND id = $2 ORDER BY version_id',
    [type, id],
  );
  return rows.map((r) => r.version_id);
}

describe('migrations', () => {
  it('run once however many replicas start together', async () => {
    const fresh = await createScratchDatabase();
    try {
      const replicas = [fresh.pool(2), fresh.pool(2), fresh.pool(2)].map((p) => new FhirStore(p));
      await Promise.all(replicas.map((r) => r.migrate()));
      await replicas[0]!.migrate();
      const check = fresh.pool(1);
      const { rows } = await check.query<{ version: number }>(
        'SELECT version FROM fhir.schema_migrations ORDER BY version',
      );
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await fresh.drop();
    }
  });
});

describe('writeLabResult', () => {
  const first = labResult({
    mrn: 'MRN-A1',
    filler: 'FIL-A1',
    placer: 'PLC-A1',
    messageControlId: 'A-1',
  });
  const keys = labResultKeys(first, DEFAULT_PLACER_ORDER_SYSTEM);

  it('creates Patient, ServiceRequest, Specimen, Observations and the DiagnosticReport', async () => {
    const receipt = await store.writeLabResult(first);
    expect(receipt).toMatchObject({
      eventId: first.eventId,
      diagnosticReportId: keys.diagnosticReportId,
      versionId: 1,
      observationCount: 2,
      outcome: 'CREATED',
    });
    expect(receipt.writtenAt).toBeGreaterThan(Date.now() - 60_000);

    const report = await store.read('DiagnosticReport', keys.diagnosticReportId);
    expect(report?.versionId).toBe(1);
    expect(report?.resource).toMatchObject({
      resourceType: 'DiagnosticReport',
      meta: { versionId: '1', source: 'urn:ancillary:message:LIS-MAIN:A-1' },
      subject: { reference: `Patient/${receipt.patientId}` },
      basedOn: [{ reference: `ServiceRequest/${keys.serviceRequestId}` }],
      specimen: [{ reference: `Specimen/${keys.specimenId}` }],
      result: keys.observationIds.map((id) => ({ reference: `Observation/${id}` })),
    });
    for (const id of keys.observationIds) {
      expect((await store.read('Observation', id))?.resource['status']).toBe('final');
    }
    expect(await store.read('Patient', receipt.patientId)).toBeDefined();
    expect(await store.read('ServiceRequest', keys.serviceRequestId!)).toBeDefined();
    expect(await store.read('Specimen', keys.specimenId!)).toBeDefined();

    const { rows } = await pool.query<{ source: string }>(
      'SELECT DISTINCT source FROM fhir.resource_history',
    );
    expect(rows).toEqual([{ source: 'urn:ancillary:message:LIS-MAIN:A-1' }]);
    expect(await store.ledgerEntry(first.eventId)).toMatchObject({
      sourceSystem: 'LIS-MAIN',
      messageControlId: 'A-1',
      orderIndex: 0,
      patientId: receipt.patientId,
      reportId: keys.diagnosticReportId,
      reportVersion: 1,
      outcome: 'CREATED',
      observationCount: 2,
    });
  });

  it('changes nothing when the same event comes again (replay, redelivery)', async () => {
    const versionsBefore = await count('fhir.resource_history');
    const again = await store.writeLabResult(first);
    expect(again).toMatchObject({
      outcome: 'UNCHANGED',
      unchangedReason: 'DUPLICATE_EVENT',
      recordedOutcome: 'CREATED', // what the first application did, for the announcement
      versionId: 1,
      diagnosticReportId: keys.diagnosticReportId,
      observationCount: 2,
    });
    expect(await count('fhir.resource_history')).toBe(versionsBefore);
    expect(await count('fhir.message_ledger WHERE report_id = $1', [keys.diagnosticReportId])).toBe(
      1,
    );
  });

  it('changes nothing when a resent message (new MSH-10) carries the same content', async () => {
    const versionsBefore = await count('fhir.resource_history');
    const resent = labResult({
      mrn: 'MRN-A1',
      filler: 'FIL-A1',
      placer: 'PLC-A1',
      messageControlId: 'A-1-RESENT',
    });
    const receipt = await store.writeLabResult(resent);
    expect(receipt).toMatchObject({
      outcome: 'UNCHANGED',
      unchangedReason: 'SAME_CONTENT',
      versionId: 1,
    });
    expect(await count('fhir.resource_history')).toBe(versionsBefore);
    expect(await store.ledgerEntry(resent.eventId)).toMatchObject({
      outcome: 'UNCHANGED',
      reportVersion: 1,
    });
  });

  it('versions the same Observation and DiagnosticReport when a corrected result comes', async () => {
    const corrected = labResult(
      {
        mrn: 'MRN-A1',
        filler: 'FIL-A1',
        placer: 'PLC-A1',
        messageControlId: 'A-2',
        receivedAt: first.receivedAt + 60_000,
      },
      { status: 'CORRECTED' },
    );
    corrected.observations[0] = observation({
      status: 'CORRECTED',
      value: { kind: 'NUMERIC', numeric: 128, comparator: null, coded: null, text: null },
      interpretation: [],
    });
    const receipt = await store.writeLabResult(corrected);
    expect(receipt).toMatchObject({
      outcome: 'UPDATED',
      versionId: 2,
      diagnosticReportId: keys.diagnosticReportId,
    });

    const [glucoseId, potassiumId] = keys.observationIds;
    const glucose = await store.read('Observation', glucoseId!);
    expect(glucose?.versionId).toBe(2);
    expect(glucose?.resource).toMatchObject({
      status: 'corrected',
      valueQuantity: { value: 128 },
      meta: { versionId: '2', source: 'urn:ancillary:message:LIS-MAIN:A-2' },
    });
    expect(glucose?.resource['interpretation']).toBeUndefined();
    expect(await versionsOf('Observation', glucoseId!)).toEqual([1, 2]);
    expect(await versionsOf('DiagnosticReport', keys.diagnosticReportId)).toEqual([1, 2]);
    // The unchanged line keeps its version.
    expect(await versionsOf('Observation', potassiumId!)).toEqual([1]);
    const v1 = await store.vread('Observation', glucoseId!, 1);
    expect(v1?.resource).toMatchObject({ status: 'final', valueQuantity: { value: 182 } });
    const history = await store.history('DiagnosticReport', keys.diagnosticReportId);
    expect(history.map((h) => [h.versionId, h.resource['status']])).toEqual([
      [2, 'corrected'],
      [1, 'final'],
    ]);
    const { rows } = await pool.query<{ source: string }>(
      'SELECT source FROM fhir.resource_history WHERE resource_type = $1 AND id = $2 ORDER BY version_id',
      ['DiagnosticReport', keys.diagnosticReportId],
    );
    expect(rows.map((r) => r.source)).toEqual([
      'urn:ancillary:message:LIS-MAIN:A-1',
      'urn:ancillary:message:LIS-MAIN:A-2',
    ]);
    expect(await count("fhir.resource WHERE resource_type = 'DiagnosticReport'")).toBe(1);
  });

  it('does not let an older message revert a newer version (out of order)', async () => {
    const stale = labResult(
      {
        mrn: 'MRN-A1',
        filler: 'FIL-A1',
        placer: 'PLC-A1',
        messageControlId: 'A-0-LATE',
        receivedAt: first.receivedAt - 60_000,
      },
      { status: 'PRELIMINARY' },
    );
    const receipt = await store.writeLabResult(stale);
    expect(receipt).toMatchObject({
      outcome: 'UNCHANGED',
      unchangedReason: 'OUT_OF_ORDER',
      versionId: 2,
    });
    const report = await store.read('DiagnosticReport', keys.diagnosticReportId);
    expect(report?.resource['status']).toBe('corrected');
    expect(report?.versionId).toBe(2);
    expect(await store.ledgerEntry(stale.eventId)).toMatchObject({
      outcome: 'UNCHANGED',
      reportVersion: 2,
    });
    expect(
      captured
        .lines()
        .some(
          (l) =>
            l['msg'] ===
            'lab result older than the report version in the chart; recorded, not applied',
        ),
    ).toBe(true);
  });

  it('marks observations a newer version of the report no longer lists as entered-in-error', async () => {
    const dropped = labResult(
      {
        mrn: 'MRN-A1',
        filler: 'FIL-A1',
        placer: 'PLC-A1',
        messageControlId: 'A-3',
        receivedAt: first.receivedAt + 120_000,
      },
      { status: 'CORRECTED' },
    );
    dropped.observations = [dropped.observations[0]!];
    const receipt = await store.writeLabResult(dropped);
    expect(receipt.outcome).toBe('UPDATED');
    const potassium = await store.read('Observation', keys.observationIds[1]!);
    expect(potassium?.resource['status']).toBe('entered-in-error');
    const report = await store.read('DiagnosticReport', keys.diagnosticReportId);
    expect(report?.resource['result']).toEqual([
      { reference: `Observation/${keys.observationIds[0]}` },
    ]);
  });
});

describe('patients', () => {
  it('are matched by any identifier across messages and gain new identifiers', async () => {
    const a = labResult({ mrn: 'MRN-B1', filler: 'FIL-B1', messageControlId: 'B-1' });
    const b = labResult({
      mrn: 'MRN-B1',
      filler: 'FIL-B2',
      messageControlId: 'B-2',
      receivedAt: a.receivedAt + 1,
    });
    b.patient.identifiers.push({ value: 'ENT-77', system: 'urn:hospital:enterprise', type: 'PI' });
    const c = labResult({
      filler: 'FIL-B3',
      messageControlId: 'B-3',
      receivedAt: a.receivedAt + 2,
    });
    c.patient.identifiers = [{ value: 'ENT-77', system: 'urn:hospital:enterprise', type: 'PI' }];

    const ra = await store.writeLabResult(a);
    const rb = await store.writeLabResult(b);
    const rc = await store.writeLabResult(c);
    expect(rb.patientId).toBe(ra.patientId);
    expect(rc.patientId).toBe(ra.patientId);
    const patient = await store.read('Patient', ra.patientId);
    expect(patient?.versionId).toBe(2);
    expect((patient?.resource['identifier'] as { value: string }[]).map((i) => i.value)).toEqual([
      'MRN-B1',
      'ENT-77',
    ]);
    expect(
      await count(
        "fhir.search_token WHERE resource_type = 'Patient' AND code IN ('MRN-B1', 'ENT-77')",
      ),
    ).toBe(2);
  });

  it('are created once when two writers file results for a new patient at the same time', async () => {
    const results = Array.from({ length: 6 }, (_, i) =>
      labResult({
        mrn: 'MRN-C1',
        filler: `FIL-C${i}`,
        placer: `PLC-C${i}`,
        messageControlId: `C-${i}`,
      }),
    );
    const receipts = await Promise.all(results.map((r) => store.writeLabResult(r)));
    expect(new Set(receipts.map((r) => r.patientId)).size).toBe(1);
    expect(receipts.every((r) => r.outcome === 'CREATED')).toBe(true);
    expect(
      await count(
        "fhir.search_token WHERE resource_type = 'Patient' AND param = 'identifier' AND code = 'MRN-C1'",
      ),
    ).toBe(1);
    expect(
      await count(
        "fhir.resource WHERE resource_type = 'Patient' AND content->'identifier' @> '[{\"value\":\"MRN-C1\"}]'",
      ),
    ).toBe(1);
  });

  it('are not guessed at when one result names two different patients', async () => {
    await store.writeLabResult(
      labResult({ mrn: 'MRN-D1', filler: 'FIL-D1', messageControlId: 'D-1' }),
    );
    await store.writeLabResult(
      labResult({ mrn: 'MRN-D2', filler: 'FIL-D2', messageControlId: 'D-2' }),
    );
    const both = labResult({ mrn: 'MRN-D1', filler: 'FIL-D3', messageControlId: 'D-3' });
    both.patient.identifiers.push({ value: 'MRN-D2', system: 'urn:hospital:mrn', type: 'MR' });
    await expect(store.writeLabResult(both)).rejects.toThrow(PatientIdentityConflictError);
    expect(await store.ledgerEntry(both.eventId)).toBeUndefined();
  });
});

describe('orders', () => {
  it('reuse a ServiceRequest the EHR sent with the same placer number, completed by the final result', async () => {
    const ehr = await store.save(
      {
        resourceType: 'ServiceRequest',
        id: 'ehr-order-1',
        identifier: [
          {
            type: {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PLAC' }],
            },
            system: DEFAULT_PLACER_ORDER_SYSTEM,
            value: 'PLC-E1',
          },
        ],
        status: 'active',
        intent: 'order',
        subject: { reference: 'Patient/unknown-yet' },
      } as never,
      { source: 'urn:ancillary:ehr' },
    );
    expect(ehr).toMatchObject({ outcome: 'CREATED', versionId: 1 });

    const result = labResult({
      mrn: 'MRN-E1',
      filler: 'FIL-E1',
      placer: 'PLC-E1',
      messageControlId: 'E-1',
    });
    const keys = labResultKeys(result, DEFAULT_PLACER_ORDER_SYSTEM);
    const receipt = await store.writeLabResult(result);
    const report = await store.read('DiagnosticReport', receipt.diagnosticReportId);
    expect(report?.resource['basedOn']).toEqual([{ reference: 'ServiceRequest/ehr-order-1' }]);
    expect(await store.read('ServiceRequest', keys.serviceRequestId!)).toBeUndefined();
    // The EHR's order gets one new version, status completed, and is otherwise as the EHR sent it
    // (lab-result.writer.int-spec.ts covers completion in detail).
    const order = await store.read('ServiceRequest', 'ehr-order-1');
    expect(order?.versionId).toBe(2);
    expect(order?.resource).toMatchObject({
      status: 'completed',
      subject: { reference: 'Patient/unknown-yet' },
    });
    for (const id of keys.observationIds) {
      expect((await store.read('Observation', id))?.resource['basedOn']).toEqual([
        { reference: 'ServiceRequest/ehr-order-1' },
      ]);
    }
  });
});

describe('failures', () => {
  it('refuses a result without patient identifiers as permanent, writing nothing', async () => {
    const result = labResult({ filler: 'FIL-F1', messageControlId: 'F-1' });
    result.patient.identifiers = [];
    const error = await store.writeLabResult(result).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidLabResultError);
    expect(error).toMatchObject({ retriable: false, code: 'INVALID_LAB_RESULT' });
  });

  it('classifies text PostgreSQL cannot store as a permanent data error and rolls back', async () => {
    const result = labResult(
      { mrn: 'MRN-F2', filler: 'FIL-F2', messageControlId: 'F-2' },
      { notes: ['bad \u0000 byte'] },
    );
    const error = await store.writeLabResult(result).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RepositoryDataError);
    expect(error).toMatchObject({ retriable: false });
    expect(await count("fhir.search_token WHERE code = 'MRN-F2'")).toBe(0);
    const failure = captured
      .lines()
      .find(
        (l) => l['msg'] === 'lab result write failed' && l['errorCode'] === 'REPOSITORY_DATA_ERROR',
      );
    expect(failure).toMatchObject({ eventId: result.eventId, retriable: false });
  });

  it('classifies an unreachable database as retriable', async () => {
    const unreachable = createPool({
      databaseUrl: 'postgres://postgres@127.0.0.1:1/none',
      connectionTimeoutMs: 500,
    });
    try {
      const error = await new FhirStore(unreachable)
        .writeLabResult(labResult())
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RepositoryUnavailableError);
      expect(error).toMatchObject({ retriable: true, code: 'REPOSITORY_UNAVAILABLE' });
    } finally {
      await unreachable.end();
    }
  });
});

describe('round trips', () => {
  it('stay a handful per result, whatever the number of observations', async () => {
    const big = labResult({ mrn: 'MRN-G1', filler: 'FIL-G1', messageControlId: 'G-1' });
    big.observations = Array.from({ length: 25 }, (_, i) =>
      observation({
        setId: i + 1,
        code: { system: 'http://loinc.org', code: `9999-${i}`, display: null },
      }),
    );
    const counting = db.pool(2);
    let statements = 0;
    const patched = new WeakSet<object>();
    counting.on('acquire', (client) => {
      if (patched.has(client)) return;
      patched.add(client);
      const original = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (
        ...args: unknown[]
      ) => {
        statements++;
        return original(...args);
      };
    });
    const counted = new FhirStore(counting);
    await counted.writeLabResult(big);
    // ledger check, BEGIN+locks, load, write, COMMIT (the pool's own query counts too)
    expect(statements).toBeLessThanOrEqual(5);
    expect(statements).toBeGreaterThanOrEqual(4);
    const report = await store.read(
      'DiagnosticReport',
      labResultKeys(big, DEFAULT_PLACER_ORDER_SYSTEM).diagnosticReportId,
    );
    expect((report?.resource['result'] as unknown[]).length).toBe(25);
  });
});
