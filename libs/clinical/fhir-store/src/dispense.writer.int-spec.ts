/**
 * The MedicationDispensed writer against the real PostgreSQL of the stack: the dispense and its
 * link to the EHR's MedicationRequest, replays, corrections, refills, out-of-order events,
 * dispenses without an order, FHIR-borne dispenses and concurrent writers.
 */
import { captureLogger, createScratchDatabase, type ScratchDatabase } from '@ancillary/testing';
import type { Pool } from 'pg';
import { dispensed } from '../test/dispense.fixture';
import { dispenseKeys } from './dispense.mapper';
import { V2_0203 } from './event.mapper';
import { FhirStore } from './fhir.store';
import { DEFAULT_PLACER_ORDER_SYSTEM } from './lab-result.mapper';

let db: ScratchDatabase;
let pool: Pool;
let store: FhirStore;
const captured = captureLogger('dispense-writer-int', 'debug');

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

async function ehrMedicationOrder(id: string, placer: string): Promise<void> {
  await store.save(
    {
      resourceType: 'MedicationRequest',
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
      medicationCodeableConcept: {
        coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '861007' }],
      },
      subject: { reference: 'Patient/ehr-patient' },
      authoredOn: '2026-03-05T06:00:00.000Z',
    } as never,
    { source: 'urn:ancillary:fhir-api' },
  );
}

describe('writeDispense', () => {
  const first = dispensed({
    mrn: 'MRN-D1',
    placer: 'PLC-D1',
    dispenseId: 'D1-1',
    messageControlId: 'D1-A',
  });
  const keys = dispenseKeys(first, DEFAULT_PLACER_ORDER_SYSTEM);

  beforeAll(async () => {
    await ehrMedicationOrder('mr-1', 'PLC-D1');
  });

  it('creates the MedicationDispense pointing at the MedicationRequest, which stays as it is', async () => {
    const receipt = await store.writeDispense(first);
    expect(receipt).toMatchObject({
      medicationDispenseId: keys.medicationDispenseId,
      medicationRequestId: 'mr-1',
      versionId: 1,
      outcome: 'CREATED',
      order: {
        resourceType: 'MedicationRequest',
        id: 'mr-1',
        authoredOn: '2026-03-05T06:00:00.000Z',
        firstResult: true,
      },
    });
    const dispense = await store.read('MedicationDispense', keys.medicationDispenseId);
    expect(dispense?.resource).toMatchObject({
      status: 'completed',
      subject: { reference: `Patient/${receipt.patientId}` },
      authorizingPrescription: [{ reference: 'MedicationRequest/mr-1' }],
      quantity: { value: 60, unit: 'TAB' },
      daysSupply: { value: 30, unit: 'd', system: 'http://unitsofmeasure.org', code: 'd' },
      meta: { source: 'urn:ancillary:message:pharmacy-main:D1-A' },
    });
    expect((await store.read('MedicationRequest', 'mr-1'))?.versionId).toBe(1);
    const { rows } = await pool.query(
      `SELECT id FROM fhir.search_reference WHERE resource_type = 'MedicationDispense'
       AND param = 'prescription' AND target_id = 'mr-1'`,
    );
    expect(rows).toEqual([{ id: keys.medicationDispenseId }]);
  });

  it('changes nothing when the same event comes again', async () => {
    const before = await count('fhir.resource_history');
    expect(await store.writeDispense(first)).toMatchObject({
      outcome: 'UNCHANGED',
      unchangedReason: 'DUPLICATE_EVENT',
      recordedOutcome: 'CREATED',
      medicationDispenseId: keys.medicationDispenseId,
    });
    expect(await count('fhir.resource_history')).toBe(before);
  });

  it('versions the same dispense for a correction, and does not count it as a first dispense', async () => {
    const corrected = dispensed(
      {
        mrn: 'MRN-D1',
        placer: 'PLC-D1',
        dispenseId: 'D1-1',
        messageControlId: 'D1-B',
        receivedAt: first.receivedAt + 60_000,
      },
      { quantityValue: 56 },
    );
    const receipt = await store.writeDispense(corrected);
    expect(receipt).toMatchObject({
      outcome: 'UPDATED',
      versionId: 2,
      order: { firstResult: false },
    });
    expect(
      (await store.read('MedicationDispense', keys.medicationDispenseId))?.resource['quantity'],
    ).toEqual({ value: 56, unit: 'TAB' });
  });

  it('does not let an older event revert a newer one', async () => {
    const stale = dispensed(
      {
        mrn: 'MRN-D1',
        placer: 'PLC-D1',
        dispenseId: 'D1-1',
        messageControlId: 'D1-0',
        receivedAt: first.receivedAt - 60_000,
      },
      { status: 'IN_PROGRESS' },
    );
    expect(await store.writeDispense(stale)).toMatchObject({
      outcome: 'UNCHANGED',
      unchangedReason: 'OUT_OF_ORDER',
      versionId: 2,
    });
    expect(
      (await store.read('MedicationDispense', keys.medicationDispenseId))?.resource,
    ).toMatchObject({ status: 'completed', quantity: { value: 56 } });
  });

  it('counts a refill (another dispense of the order) as not the first', async () => {
    const refill = dispensed({
      mrn: 'MRN-D1',
      placer: 'PLC-D1',
      dispenseId: 'D1-2',
      messageControlId: 'D1-C',
    });
    const receipt = await store.writeDispense(refill);
    expect(receipt).toMatchObject({
      outcome: 'CREATED',
      order: { id: 'mr-1', firstResult: false },
    });
  });
});

describe('dispenses without a known order, from FHIR, and concurrent', () => {
  it('are filed without authorizingPrescription when no MedicationRequest has the number', async () => {
    const orphan = dispensed({ mrn: 'MRN-D2', placer: 'PLC-NONE', dispenseId: 'D2-1' });
    const receipt = await store.writeDispense(orphan);
    expect(receipt.order).toBeUndefined();
    expect(
      (await store.read('MedicationDispense', receipt.medicationDispenseId))?.resource[
        'authorizingPrescription'
      ],
    ).toBeUndefined();
    expect(
      captured
        .lines()
        .some(
          (l) =>
            typeof l['msg'] === 'string' &&
            l['msg'].startsWith('no MedicationRequest carries the placer order number') &&
            l['eventId'] === orphan.eventId,
        ),
    ).toBe(true);
  });

  it('name the event as source when no MSH-10 carried them', async () => {
    const fromFhir = dispensed({
      mrn: 'MRN-D3',
      dispenseId: 'D3-1',
      messageControlId: null,
      placer: null,
    });
    const receipt = await store.writeDispense(fromFhir);
    expect(
      (await store.read('MedicationDispense', receipt.medicationDispenseId))?.resource['meta'],
    ).toMatchObject({ source: `urn:ancillary:event:pharmacy-main:${fromFhir.eventId}` });
  });

  it('create one patient when dispenses for a new patient are written at the same time', async () => {
    const events = Array.from({ length: 6 }, (_, i) =>
      dispensed({
        mrn: 'MRN-D4',
        dispenseId: `D4-${i}`,
        placer: null,
        messageControlId: `D4-${i}`,
      }),
    );
    const receipts = await Promise.all(events.map((e) => store.writeDispense(e)));
    expect(new Set(receipts.map((r) => r.patientId)).size).toBe(1);
    expect(
      await count(
        "fhir.search_token WHERE resource_type = 'Patient' AND param = 'identifier' AND code = 'MRN-D4'",
      ),
    ).toBe(1);
  });
});
