/**
 * The ChargeItem writer against the real PostgreSQL of the stack: a charge line becomes a
 * billable ChargeItem linked to the EHR's order; the engine's answer makes it billed or
 * aborted; a credit makes it entered-in-error; answers and credits consumed before their charge,
 * replays and concurrent writers all end in the same status.
 */
import { captureLogger, createScratchDatabase, type ScratchDatabase } from '@ancillary/testing';
import type { Pool } from 'pg';
import { answer, chargeLine, CREATED_AT, creditOf } from '../test/charge.fixture';
import { dispensed } from '../test/dispense.fixture';
import { CHARGE_KEY_SYSTEM, chargeItemId } from './charge-item.mapper';
import { V2_0203 } from './event.mapper';
import { FhirStore } from './fhir.store';
import { DEFAULT_PLACER_ORDER_SYSTEM } from './lab-result.mapper';
import { parseSearchQuery } from './search-query';

let db: ScratchDatabase;
let pool: Pool;
let store: FhirStore;
const captured = captureLogger('charge-item-writer-int', 'debug');

beforeAll(async () => {
  db = await createScratchDatabase();
  pool = db.pool(8);
  store = new FhirStore(pool, { logger: captured.logger });
  await store.migrate();
  await store.save(
    {
      resourceType: 'ServiceRequest',
      id: 'sr-c1',
      identifier: [
        {
          type: { coding: [{ system: V2_0203, code: 'PLAC' }] },
          system: DEFAULT_PLACER_ORDER_SYSTEM,
          value: 'PL-C1',
        },
      ],
      status: 'completed',
      intent: 'order',
      code: { coding: [{ system: 'http://loinc.org', code: '51990-0' }] },
      subject: { reference: 'Patient/ehr-patient' },
    } as never,
    { source: 'urn:ancillary:fhir-api' },
  );
});

afterAll(async () => {
  await db.drop();
});

async function item(chargeEventId: string): Promise<Record<string, unknown> | undefined> {
  return (await store.read('ChargeItem', chargeItemId(chargeEventId)))?.resource;
}

async function search(qs: string): Promise<string[]> {
  const result = await store.search(
    parseSearchQuery('ChargeItem', new URLSearchParams(qs).entries()),
  );
  return result.matches.map((m) => m.id).sort();
}

const at = (s: number) => CREATED_AT + s * 1000;

describe('ChargeItem writer', () => {
  it('writes a billable ChargeItem for a charge, linked to the order and to the patient', async () => {
    const line = chargeLine('charge:w1');
    const receipt = await store.writeCharge(line);
    expect(receipt).toMatchObject({ outcome: 'CREATED', status: 'billable', versionId: 1 });
    const content = await item('charge:w1');
    expect(content).toMatchObject({
      status: 'billable',
      subject: { reference: `Patient/${receipt.patientId}` },
      supportingInformation: [{ reference: 'ServiceRequest/sr-c1' }],
    });
    // The patient is created from the identifiers alone: billing carries no demographics in.
    const patient = await store.read('Patient', receipt.patientId!);
    expect(patient?.resource).not.toHaveProperty('name');
    expect(await search(`patient=Patient/${receipt.patientId}&status=billable`)).toEqual([
      chargeItemId('charge:w1'),
    ]);
  });

  it('moves to billed on the engine answer; a replayed charge or answer changes nothing', async () => {
    const line = chargeLine('charge:w1');
    const billed = await store.applyChargeStatus(answer(line, 'BILLED', at(5)));
    expect(billed).toMatchObject({ outcome: 'UPDATED', status: 'billed', versionId: 2 });
    expect(await store.writeCharge(line)).toMatchObject({ unchangedReason: 'DUPLICATE_EVENT' });
    expect(await store.applyChargeStatus(answer(line, 'BILLED', at(5)))).toMatchObject({
      unchangedReason: 'DUPLICATE_EVENT',
    });
    expect(await item('charge:w1')).toMatchObject({ status: 'billed', meta: { versionId: '2' } });
    expect(
      await search(`identifier=${CHARGE_KEY_SYSTEM}|F1001|30000101|2026-12-04&status=billed`),
    ).toEqual([chargeItemId('charge:w1')]);
  });

  it('a credit makes it entered-in-error for good', async () => {
    const line = chargeLine('charge:w1');
    const credit = creditOf(line, 'credit:w1');
    expect(await store.writeCharge(credit)).toMatchObject({
      chargeItemId: chargeItemId('charge:w1'),
      status: 'entered-in-error',
      outcome: 'UPDATED',
    });
    await store.applyChargeStatus(answer(credit, 'BILLED', at(70))); // the credit reached the engine
    await store.applyChargeStatus(answer(line, 'BILLED', at(80), 'DFT9')); // a late resend's answer
    expect(await item('charge:w1')).toMatchObject({ status: 'entered-in-error' });
  });

  it('an answer consumed before its charge is applied when the charge is written', async () => {
    const line = chargeLine('charge:w2', { chargeKey: 'F1002|30000101|2026-12-04' });
    expect(await store.applyChargeStatus(answer(line, 'BILLED', at(3)))).toMatchObject({
      written: false,
      status: 'billed',
    });
    expect(await item('charge:w2')).toBeUndefined();
    expect(await store.writeCharge(line)).toMatchObject({ outcome: 'CREATED', status: 'billed' });
  });

  it('a credit consumed before its charge: the ChargeItem is entered-in-error and stays so', async () => {
    const line = chargeLine('charge:w3', { chargeKey: 'F1003|30000101|2026-12-04' });
    await store.writeCharge(creditOf(line, 'credit:w3'));
    expect(await item('charge:w3')).toMatchObject({ status: 'entered-in-error' });
    await store.writeCharge(line);
    await store.applyChargeStatus(answer(line, 'BILLED', at(3)));
    expect(await item('charge:w3')).toMatchObject({ status: 'entered-in-error' });
  });

  it('rejected, then accepted after a replay: aborted, then billed', async () => {
    const line = chargeLine('charge:w4', { chargeKey: 'F1004|30000101|2026-12-04' });
    await store.writeCharge(line);
    await store.applyChargeStatus(answer(line, 'REJECTED', at(3), 'DFT1'));
    expect(await item('charge:w4')).toMatchObject({ status: 'aborted' });
    await store.applyChargeStatus(answer(line, 'BILLED', at(600), 'DFT2'));
    expect(await item('charge:w4')).toMatchObject({ status: 'billed' });
  });

  it('a drug charge names the chart’s MedicationDispense as its service', async () => {
    await store.writeDispense(dispensed({ mrn: 'MRN-C1', dispenseId: 'D-C5', placer: null }));
    const line = chargeLine('charge:w5', {
      sourceKind: 'PHARMACY',
      chargeKey: 'dispense:D-C5',
      placerOrderNumber: null,
      ndc: '00093-1048-01',
    });
    await store.writeCharge(line);
    const content = await item('charge:w5');
    const service = content?.['service'] as { reference: string }[];
    expect(service).toHaveLength(1);
    expect(service[0]?.reference).toMatch(/^MedicationDispense\//);
    expect(content).not.toHaveProperty('supportingInformation');
  });

  it('a charge and its answer written at the same time end billed', async () => {
    const lines = Array.from({ length: 10 }, (_, i) =>
      chargeLine(`charge:race${i}`, { chargeKey: `F2${i}|30000101|2026-12-04` }),
    );
    await Promise.all(
      lines.flatMap((l) => [
        store.writeCharge(l),
        store.applyChargeStatus(answer(l, 'BILLED', at(4))),
      ]),
    );
    for (const l of lines) expect(await item(l.eventId)).toMatchObject({ status: 'billed' });
  });
});
