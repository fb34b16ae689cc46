import { answer, chargeLine, creditOf } from '../test/charge.fixture';
import {
  CHARGE_EVENT_SYSTEM,
  CHARGE_KEY_SYSTEM,
  CHARGE_MASTER_SYSTEM,
  CHARGE_TRANSACTION_SYSTEM,
  chargeItemId,
  chargeItemStatus,
  HCPCS_SYSTEM,
  mapChargeItem,
  withEngineAnswer,
} from './charge-item.mapper';
import { InvalidClinicalEventError } from './errors';
import { CPT_SYSTEM, NDC_SYSTEM } from './event.mapper';

const links = { patientId: 'p-1', placerOrderSystem: 'urn:ancillary:placer-order' };

describe('mapChargeItem', () => {
  it('maps a lab charge: identifiers, codes, subject, order, price, diagnoses', () => {
    const line = chargeLine('charge:1');
    const item = mapChargeItem(
      line,
      { ...links, order: { resourceType: 'ServiceRequest', id: 'sr-1' } },
      'billable',
    );
    expect(item).toMatchObject({
      resourceType: 'ChargeItem',
      id: chargeItemId('charge:1'),
      status: 'billable',
      identifier: [
        { system: CHARGE_EVENT_SYSTEM, value: 'charge:1' },
        { system: CHARGE_TRANSACTION_SYSTEM, value: line.transactionId },
        { system: CHARGE_KEY_SYSTEM, value: 'F1001|30000101|2026-12-04' },
      ],
      code: {
        coding: [
          { system: CHARGE_MASTER_SYSTEM, code: '30000101', display: 'Basic metabolic panel' },
          { system: CPT_SYSTEM, code: '80048' },
        ],
      },
      subject: { reference: 'Patient/p-1' },
      occurrenceDateTime: '2026-12-04T09:15:00.000Z',
      quantity: { value: 1 },
      priceOverride: { value: 42, currency: 'USD' },
      costCenter: { display: 'LAB-CHEM' },
      reason: [{ coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'E11.9' }] }],
      supportingInformation: [
        {
          reference: 'ServiceRequest/sr-1',
          type: 'ServiceRequest',
          identifier: { system: 'urn:ancillary:placer-order', value: 'PL-C1' },
        },
      ],
      performer: [{ function: { text: 'ordering' }, actor: { display: 'Ngozi Okafor' } }],
    });
    expect(item.service).toBeUndefined();
  });

  it('maps a drug: HCPCS system, NDC product, the dispense as service, the order by number only', () => {
    const line = chargeLine('charge:2', {
      sourceKind: 'PHARMACY',
      chargeKey: 'dispense:D-9',
      cptHcpcs: 'J1100',
      ndc: '00009-0047-01',
      quantity: 2.5,
    });
    const item = mapChargeItem(line, { ...links, dispenseId: 'md-1' }, 'billed');
    expect(item.code.coding?.[1]).toEqual({ system: HCPCS_SYSTEM, code: 'J1100' });
    expect(item.productCodeableConcept).toEqual({
      coding: [{ system: NDC_SYSTEM, code: '00009-0047-01' }],
    });
    expect(item.service).toEqual([{ reference: 'MedicationDispense/md-1' }]);
    expect(item.supportingInformation).toEqual([
      {
        type: 'MedicationRequest',
        identifier: { system: 'urn:ancillary:placer-order', value: 'PL-C1' },
      },
    ]);
    expect(item.quantity).toEqual({ value: 2.5 });
  });

  it('a credit maps to the ChargeItem of the charge it reverses', () => {
    const charge = chargeLine('charge:3');
    const item = mapChargeItem(creditOf(charge, 'credit:3'), links, 'entered-in-error');
    expect(item.id).toBe(chargeItemId('charge:3'));
    expect(item.identifier?.[0]).toEqual({ system: CHARGE_EVENT_SYSTEM, value: 'charge:3' });
    expect(item.identifier?.[1]).toEqual({
      system: CHARGE_TRANSACTION_SYSTEM,
      value: charge.transactionId,
    });
  });

  it('refuses a credit that names no charge, and a negative quantity', () => {
    const credit = { ...creditOf(chargeLine('charge:4'), 'credit:4'), reversesEventId: null };
    expect(() => mapChargeItem(credit, links, 'billable')).toThrow(InvalidClinicalEventError);
    expect(() =>
      mapChargeItem(chargeLine('charge:5', { quantity: -1 }), links, 'billable'),
    ).toThrow(/quantity/);
  });
});

describe('ChargeItem status', () => {
  const t = (s: number) => new Date(Date.UTC(2026, 11, 4, 12, 0, s));

  it('is billable before any answer, then the engine answer, entered-in-error once reversed', () => {
    expect(chargeItemStatus(undefined)).toBe('billable');
    const billed = withEngineAnswer(undefined, 'billed', t(1));
    expect(chargeItemStatus(billed)).toBe('billed');
    expect(chargeItemStatus({ ...billed, reversedBy: 'credit:1' })).toBe('entered-in-error');
  });

  it('the later answer wins: rejected, then accepted after a replay, ends billed', () => {
    const rejected = withEngineAnswer(undefined, 'aborted', t(1));
    expect(chargeItemStatus(rejected)).toBe('aborted');
    const replayed = withEngineAnswer(rejected, 'billed', t(5));
    expect(chargeItemStatus(replayed)).toBe('billed');
    // an older answer consumed late changes nothing
    expect(withEngineAnswer(replayed, 'aborted', t(1))).toBe(replayed);
    // a tie keeps billed
    expect(chargeItemStatus(withEngineAnswer(replayed, 'aborted', t(5)))).toBe('billed');
  });

  it('fixture answers carry deterministic ids', () => {
    const line = chargeLine('charge:6');
    expect(answer(line, 'BILLED', 1).eventId).toBe('charge:6:BILLED:DFT1');
  });
});
