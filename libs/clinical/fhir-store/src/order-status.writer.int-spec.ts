/**
 * The OrderStatusChanged writer against the real PostgreSQL of the stack: accepted, rejected,
 * later statuses, replays, out-of-order and late events on final orders, orders found by id,
 * and orders the repository does not have.
 */
import { captureLogger, createScratchDatabase, type ScratchDatabase } from '@ancillary/testing';
import type { Pool } from 'pg';
import { orderStatus } from '../test/order-status.fixture';
import { T0 } from '../test/lab-result.fixture';
import { UnknownOrderError } from './errors';
import { fillerOrderSystem, ORDER_REJECTION_EXTENSION, V2_0203 } from './event.mapper';
import { FhirStore } from './fhir.store';
import { DEFAULT_PLACER_ORDER_SYSTEM } from './lab-result.mapper';

let db: ScratchDatabase;
let pool: Pool;
let store: FhirStore;
const captured = captureLogger('order-status-int', 'debug');

beforeAll(async () => {
  db = await createScratchDatabase();
  pool = db.pool(8);
  store = new FhirStore(pool, { logger: captured.logger });
  await store.migrate();
});

afterAll(async () => {
  await db.drop();
});

async function order(
  resourceType: 'ServiceRequest' | 'MedicationRequest',
  id: string,
  placer: string,
): Promise<void> {
  await store.save(
    {
      resourceType,
      id,
      identifier: [
        {
          type: { coding: [{ system: V2_0203, code: 'PLAC' }] },
          system: DEFAULT_PLACER_ORDER_SYSTEM,
          value: placer,
        },
      ],
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/p-status' },
    } as never,
    { source: 'urn:ancillary:fhir-api' },
  );
}

async function statuses(type: string, id: string): Promise<string[]> {
  const { rows } = await pool.query<{ status: string }>(
    `SELECT content->>'status' AS status FROM fhir.resource_history
     WHERE resource_type = $1 AND id = $2 ORDER BY version_id`,
    [type, id],
  );
  return rows.map((r) => r.status);
}

const at = (minutes: number) => T0 + minutes * 60_000;

describe('applyOrderStatus', () => {
  beforeAll(async () => {
    await order('ServiceRequest', 'sr-s1', 'PLC-S1');
  });

  it('records ACCEPTED with the filler number, once', async () => {
    const accepted = orderStatus('ACCEPTED', {
      placerOrderNumber: 'PLC-S1',
      fillerOrderNumber: 'F-S1',
      occurredAt: at(1),
    });
    const receipt = await store.applyOrderStatus(accepted);
    expect(receipt).toMatchObject({
      resourceType: 'ServiceRequest',
      resourceId: 'sr-s1',
      patientId: 'p-status',
      versionId: 2,
      status: 'active',
      outcome: 'UPDATED',
    });
    const sr = await store.read('ServiceRequest', 'sr-s1');
    expect(sr?.resource['identifier']).toContainEqual({
      type: { coding: [{ system: V2_0203, code: 'FILL' }] },
      system: fillerOrderSystem('lis-main'),
      value: 'F-S1',
    });
    expect(await store.applyOrderStatus(accepted)).toMatchObject({
      outcome: 'UNCHANGED',
      unchangedReason: 'DUPLICATE_EVENT',
      recordedOutcome: 'UPDATED',
      resourceId: 'sr-s1',
    });
    expect(await store.eventLedgerEntry(accepted.eventId)).toMatchObject({
      kind: 'order-status',
      resourceType: 'ServiceRequest',
      resourceId: 'sr-s1',
      versionId: 2,
      receivedAt: new Date(at(1)),
    });
  });

  it('follows later statuses, ignores an older one and never leaves completed', async () => {
    const held = await store.applyOrderStatus(
      orderStatus('ON_HOLD', { placerOrderNumber: 'PLC-S1', occurredAt: at(3) }),
    );
    expect(held.status).toBe('on-hold');
    const older = await store.applyOrderStatus(
      orderStatus('IN_PROGRESS', { placerOrderNumber: 'PLC-S1', occurredAt: at(2) }),
    );
    expect(older).toMatchObject({
      status: 'on-hold',
      outcome: 'UNCHANGED',
      unchangedReason: 'OUT_OF_ORDER',
      statusNotApplied: 'OUT_OF_ORDER',
    });
    await store.applyOrderStatus(
      orderStatus('IN_PROGRESS', { placerOrderNumber: 'PLC-S1', occurredAt: at(4) }),
    );
    await store.applyOrderStatus(
      orderStatus('COMPLETED', { placerOrderNumber: 'PLC-S1', occurredAt: at(5) }),
    );
    const late = await store.applyOrderStatus(
      orderStatus('ACCEPTED', {
        placerOrderNumber: 'PLC-S1',
        occurredAt: at(6),
        eventId: 'late-accept',
      }),
    );
    expect(late).toMatchObject({
      status: 'completed',
      outcome: 'UNCHANGED',
      statusNotApplied: 'FINAL_STATUS',
    });
    expect(await statuses('ServiceRequest', 'sr-s1')).toEqual([
      'active',
      'active',
      'on-hold',
      'active',
      'completed',
    ]);
    expect(
      captured
        .lines()
        .some(
          (l) =>
            l['msg'] === 'order status for an order in a final state; the order keeps its status' &&
            l['eventId'] === 'late-accept',
        ),
    ).toBe(true);
  });

  it('records a rejection of a MedicationRequest: cancelled, with the reason', async () => {
    await order('MedicationRequest', 'mr-s2', 'PLC-S2');
    const receipt = await store.applyOrderStatus(
      orderStatus('REJECTED', {
        sourceSystem: 'pharmacy-main',
        placerOrderNumber: 'PLC-S2',
        reason: 'Drug not on formulary',
      }),
    );
    expect(receipt).toMatchObject({ resourceType: 'MedicationRequest', status: 'cancelled' });
    const mr = await store.read('MedicationRequest', 'mr-s2');
    expect(mr?.resource).toMatchObject({
      status: 'cancelled',
      extension: [{ url: ORDER_REJECTION_EXTENSION, valueString: 'Drug not on formulary' }],
      note: [{ text: 'Rejected by pharmacy-main: Drug not on formulary' }],
      statusReason: { text: 'Drug not on formulary' },
    });
  });

  it('finds the order by the resource id an answer names', async () => {
    await order('ServiceRequest', 'sr-s3', 'PLC-S3');
    const receipt = await store.applyOrderStatus(
      orderStatus('ACCEPTED', {
        placerOrderNumber: null,
        orderResourceType: 'ServiceRequest',
        orderResourceId: 'sr-s3',
        fillerOrderNumber: 'F-S3',
      }),
    );
    expect(receipt).toMatchObject({ resourceId: 'sr-s3', status: 'active', outcome: 'UPDATED' });
  });

  it('refuses, as permanent, a status for an order the repository does not have', async () => {
    const unknown = orderStatus('ACCEPTED', {
      placerOrderNumber: 'PLC-NOPE',
      orderResourceType: 'ServiceRequest',
      orderResourceId: 'sr-nope',
    });
    const error = await store.applyOrderStatus(unknown).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOrderError);
    expect(error).toMatchObject({ retriable: false, code: 'UNKNOWN_ORDER' });
    expect((error as Error).message).toMatch(
      /placer order number 'PLC-NOPE'.*ServiceRequest\/sr-nope/,
    );
    expect(await store.eventLedgerEntry(unknown.eventId)).toBeUndefined();
    const none = orderStatus('ACCEPTED', { placerOrderNumber: null, eventId: 'no-order-named' });
    await expect(store.applyOrderStatus(none)).rejects.toThrow(/names no order/);
  });

  it('applies concurrent statuses of one order one at a time, losing none', async () => {
    await order('ServiceRequest', 'sr-s4', 'PLC-S4');
    const events = [
      orderStatus('ACCEPTED', {
        placerOrderNumber: 'PLC-S4',
        fillerOrderNumber: 'F-S4',
        occurredAt: at(1),
      }),
      orderStatus('IN_PROGRESS', { placerOrderNumber: 'PLC-S4', occurredAt: at(2) }),
      orderStatus('COMPLETED', { placerOrderNumber: 'PLC-S4', occurredAt: at(3) }),
    ];
    await Promise.all(events.map((e) => store.applyOrderStatus(e)));
    const sr = await store.read('ServiceRequest', 'sr-s4');
    // Whatever the order they ran in: the newest status wins and the filler number is there.
    expect(sr?.resource['status']).toBe('completed');
    expect(sr?.resource['identifier']).toContainEqual(
      expect.objectContaining({ value: 'F-S4', system: fillerOrderSystem('lis-main') }),
    );
    expect(
      await pool.query('SELECT 1 FROM fhir.event_ledger WHERE resource_id = $1', ['sr-s4']),
    ).toMatchObject({
      rowCount: 3,
    });
  });
});
