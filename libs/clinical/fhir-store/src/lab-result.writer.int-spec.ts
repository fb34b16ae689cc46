/**
 * The LabResult writer and the EHR's orders, against the real PostgreSQL of the stack: a final
 * result completes the ServiceRequest it answers (once, never a revoked one), the receipt names
 * the order and says which write filed its first final result, high-priority results carry
 * their extension, and a result racing an order status on the same order loses neither change.
 */
import { captureLogger, createScratchDatabase, type ScratchDatabase } from '@ancillary/testing';
import type { Pool } from 'pg';
import { labResult } from '../test/lab-result.fixture';
import { orderStatus } from '../test/order-status.fixture';
import {
  fillerOrderSystem,
  ORDER_PRIORITY_EXTENSION,
  RESULT_PRIORITY_EXTENSION,
  V2_0203,
} from './event.mapper';
import { FhirStore } from './fhir.store';
import { DEFAULT_PLACER_ORDER_SYSTEM } from './lab-result.mapper';

let db: ScratchDatabase;
let pool: Pool;
let store: FhirStore;
const captured = captureLogger('lab-writer-int', 'debug');

beforeAll(async () => {
  db = await createScratchDatabase();
  pool = db.pool(8);
  store = new FhirStore(pool, { logger: captured.logger });
  await store.migrate();
});

afterAll(async () => {
  await db.drop();
});

const AUTHORED = '2026-03-05T07:30:00.000Z';

/** A ServiceRequest as the EHR's order API stores it. */
async function ehrOrder(id: string, placer: string, status = 'active'): Promise<void> {
  await store.save(
    {
      resourceType: 'ServiceRequest',
      id,
      identifier: [
        {
          type: { coding: [{ system: V2_0203, code: 'PLAC' }] },
          system: DEFAULT_PLACER_ORDER_SYSTEM,
          value: placer,
        },
      ],
      status,
      intent: 'order',
      priority: 'stat',
      code: { coding: [{ system: 'http://loinc.org', code: '51990-0' }] },
      subject: { reference: 'Patient/ehr-patient' },
      authoredOn: AUTHORED,
    } as never,
    { source: 'urn:ancillary:fhir-api' },
  );
}

async function versionsOf(type: string, id: string): Promise<string[]> {
  const { rows } = await pool.query<{ status: string }>(
    `SELECT content->>'status' AS status FROM fhir.resource_history
     WHERE resource_type = $1 AND id = $2 ORDER BY version_id`,
    [type, id],
  );
  return rows.map((r) => r.status);
}

describe('the EHR order a result answers', () => {
  it('stays active on a preliminary result and is completed by the final one, once', async () => {
    await ehrOrder('sr-lab-1', 'PLC-L1');
    const prelim = labResult(
      { mrn: 'MRN-L1', placer: 'PLC-L1', filler: 'FIL-L1', messageControlId: 'L1-1' },
      { status: 'PRELIMINARY' },
    );
    const r1 = await store.writeLabResult(prelim);
    expect(r1.order).toEqual({
      resourceType: 'ServiceRequest',
      id: 'sr-lab-1',
      authoredOn: AUTHORED,
      priority: 'stat',
      firstResult: false,
    });
    expect(await versionsOf('ServiceRequest', 'sr-lab-1')).toEqual(['active']);

    const final = labResult({
      mrn: 'MRN-L1',
      placer: 'PLC-L1',
      filler: 'FIL-L1',
      messageControlId: 'L1-2',
      receivedAt: prelim.receivedAt + 60_000,
    });
    const r2 = await store.writeLabResult(final);
    expect(r2).toMatchObject({ outcome: 'UPDATED', order: { id: 'sr-lab-1', firstResult: true } });
    expect(await versionsOf('ServiceRequest', 'sr-lab-1')).toEqual(['active', 'completed']);
    const order = await store.read('ServiceRequest', 'sr-lab-1');
    expect(order?.resource).toMatchObject({
      status: 'completed',
      priority: 'stat',
      authoredOn: AUTHORED,
      subject: { reference: 'Patient/ehr-patient' },
      meta: { versionId: '2', source: 'urn:ancillary:message:LIS-MAIN:L1-2' },
    });
    // Searchable by its new status.
    const { rows } = await pool.query(
      `SELECT 1 FROM fhir.search_token WHERE resource_type = 'ServiceRequest' AND id = 'sr-lab-1'
       AND param = 'status' AND code = 'completed'`,
    );
    expect(rows).toHaveLength(1);

    const corrected = labResult(
      {
        mrn: 'MRN-L1',
        placer: 'PLC-L1',
        filler: 'FIL-L1',
        messageControlId: 'L1-3',
        receivedAt: prelim.receivedAt + 120_000,
      },
      { status: 'CORRECTED' },
    );
    const r3 = await store.writeLabResult(corrected);
    expect(r3).toMatchObject({ outcome: 'UPDATED', order: { firstResult: false } });
    expect(await versionsOf('ServiceRequest', 'sr-lab-1')).toEqual(['active', 'completed']);

    const replay = await store.writeLabResult(final);
    expect(replay).toMatchObject({ unchangedReason: 'DUPLICATE_EVENT' });
    expect(replay.order).toBeUndefined();
  });

  it('is never revived when revoked: the result is filed, the order keeps its status', async () => {
    await ehrOrder('sr-lab-2', 'PLC-L2', 'revoked');
    const receipt = await store.writeLabResult(
      labResult({ mrn: 'MRN-L2', placer: 'PLC-L2', filler: 'FIL-L2', messageControlId: 'L2-1' }),
    );
    expect(receipt.outcome).toBe('CREATED');
    expect(await versionsOf('ServiceRequest', 'sr-lab-2')).toEqual(['revoked']);
    const report = await store.read('DiagnosticReport', receipt.diagnosticReportId);
    expect(report?.resource['basedOn']).toEqual([{ reference: 'ServiceRequest/sr-lab-2' }]);
    expect(
      captured
        .lines()
        .find(
          (l) =>
            l['msg'] ===
              'final lab result for an order that is no longer active; the order keeps its status' &&
            l['serviceRequestId'] === 'sr-lab-2',
        ),
    ).toMatchObject({ orderStatus: 'revoked', eventId: receipt.eventId });
  });

  it('is not reported for a result without an EHR order (the repository keeps its own)', async () => {
    const receipt = await store.writeLabResult(
      labResult({ mrn: 'MRN-L3', placer: 'PLC-L3', filler: 'FIL-L3', messageControlId: 'L3-1' }),
    );
    expect(receipt.order).toBeUndefined();
  });

  it('loses neither change when a final result and an order status race on it', async () => {
    for (let round = 0; round < 4; round++) {
      const id = `sr-race-${round}`;
      const placer = `PLC-RACE-${round}`;
      await ehrOrder(id, placer);
      const result = labResult({
        mrn: `MRN-RACE-${round}`,
        placer,
        filler: `FIL-RACE-${round}`,
        messageControlId: `RACE-${round}`,
      });
      const accepted = orderStatus('ACCEPTED', {
        sourceSystem: 'LIS-MAIN',
        placerOrderNumber: placer,
        fillerOrderNumber: `FIL-RACE-${round}`,
      });
      await Promise.all([store.writeLabResult(result), store.applyOrderStatus(accepted)]);
      const order = await store.read('ServiceRequest', id);
      expect(order?.versionId).toBe(3);
      expect(order?.resource['status']).toBe('completed');
      expect(order?.resource['identifier']).toContainEqual(
        expect.objectContaining({
          system: fillerOrderSystem('LIS-MAIN'),
          value: `FIL-RACE-${round}`,
        }),
      );
    }
  });
});

describe('high-priority results', () => {
  it('carry the result-priority and order-priority extensions on the report', async () => {
    const stat = labResult(
      { mrn: 'MRN-L4', filler: 'FIL-L4', placer: 'PLC-L4', messageControlId: 'L4-1' },
      { highPriority: true },
    );
    stat.order.priority = 'stat';
    const receipt = await store.writeLabResult(stat);
    const report = await store.read('DiagnosticReport', receipt.diagnosticReportId);
    expect(report?.resource['extension']).toEqual([
      { url: RESULT_PRIORITY_EXTENSION, valueCode: 'high' },
      { url: ORDER_PRIORITY_EXTENSION, valueCode: 'stat' },
    ]);
  });
});
