import { dispensed } from '../test/dispense.fixture';
import { dispenseIdentifierSystem, dispenseKeys, mapDispense } from './dispense.mapper';
import { InvalidClinicalEventError } from './errors';
import { NDC_SYSTEM, RXNORM_SYSTEM } from './event.mapper';
import { DEFAULT_PLACER_ORDER_SYSTEM } from './lab-result.mapper';

const keysOf = (d = dispensed()) => dispenseKeys(d, DEFAULT_PLACER_ORDER_SYSTEM);

describe('dispenseKeys', () => {
  it('derives the dispense id from source system and dispense id only', () => {
    const a = keysOf(dispensed({ messageControlId: 'A' }));
    const b = keysOf(dispensed({ messageControlId: null }, { quantityValue: 30 }));
    expect(b.medicationDispenseId).toBe(a.medicationDispenseId);
    expect(keysOf(dispensed({ sourceSystem: 'rx-east' })).medicationDispenseId).not.toBe(
      a.medicationDispenseId,
    );
    expect(keysOf(dispensed({ dispenseId: 'RX778-2' })).medicationDispenseId).not.toBe(
      a.medicationDispenseId,
    );
    expect(a.placer).toEqual({ system: DEFAULT_PLACER_ORDER_SYSTEM, value: 'PLC-M001' });
    expect(keysOf(dispensed({ placer: null })).placer).toBeUndefined();
  });

  it('refuses what cannot be filed: no dispense id, no NDC, bad quantity or days supply', () => {
    const cases = [
      dispensed({}, { dispenseId: ' ' }),
      dispensed({}, { ndc: { system: null, code: '', display: null } }),
      dispensed({}, { quantityValue: Number.NaN }),
      dispensed({}, { quantityValue: -1 }),
      dispensed({}, { daysSupply: 2.5 }),
    ];
    for (const d of cases) expect(() => keysOf(d)).toThrow(InvalidClinicalEventError);
    expect(() => keysOf(dispensed({}, { ndc: { system: null, code: '', display: null } }))).toThrow(
      /ndc\.code/,
    );
  });
});

describe('mapDispense', () => {
  it('maps product, quantity, days supply, performer, time and prescription', () => {
    const d = dispensed();
    const keys = keysOf(d);
    expect(mapDispense(d, keys, { patientId: 'p1', medicationRequestId: 'mr-1' })).toEqual({
      resourceType: 'MedicationDispense',
      id: keys.medicationDispenseId,
      identifier: [{ system: dispenseIdentifierSystem('pharmacy-main'), value: 'RX778-1' }],
      status: 'completed',
      medicationCodeableConcept: {
        coding: [
          { system: NDC_SYSTEM, code: '00000-1234-01', display: 'Metformin HCl 500 mg tablet' },
          {
            system: RXNORM_SYSTEM,
            code: '861007',
            display: 'metformin hydrochloride 500 MG Oral Tablet',
          },
          { system: 'urn:rx:local', code: 'MET500', display: 'Metformin 500mg tab' },
        ],
        text: 'metformin hydrochloride 500 MG Oral Tablet',
      },
      subject: { reference: 'Patient/p1' },
      performer: [{ actor: { display: 'Pharmacist Example' } }],
      authorizingPrescription: [{ reference: 'MedicationRequest/mr-1' }],
      quantity: { value: 60, unit: 'TAB' },
      daysSupply: { value: 30, unit: 'd', system: 'http://unitsofmeasure.org', code: 'd' },
      whenHandedOver: '2026-03-05T09:23:20.000Z',
    });
  });

  it('defaults the NDC system, leaves out what is unknown and maps every status', () => {
    const d = dispensed(
      {},
      {
        ndc: { system: null, code: '00000-1234-01', display: null },
        rxnorm: null,
        localCode: null,
        daysSupply: null,
        dispenser: null,
        quantityUnit: null,
        notes: ['Counselled', ''],
      },
    );
    const m = mapDispense(d, keysOf(d), { patientId: 'p1' });
    expect(m.medicationCodeableConcept).toEqual({
      coding: [{ system: NDC_SYSTEM, code: '00000-1234-01' }],
    });
    expect(m.authorizingPrescription).toBeUndefined();
    expect(m.daysSupply).toBeUndefined();
    expect(m.performer).toBeUndefined();
    expect(m.quantity).toEqual({ value: 60 });
    expect(m.note).toEqual([{ text: 'Counselled' }]);
    const statuses = {
      COMPLETED: 'completed',
      IN_PROGRESS: 'in-progress',
      CANCELLED: 'cancelled',
      ENTERED_IN_ERROR: 'entered-in-error',
      UNKNOWN: 'unknown',
    } as const;
    for (const [status, fhir] of Object.entries(statuses)) {
      const s = dispensed({}, { status: status as keyof typeof statuses });
      expect(mapDispense(s, keysOf(s), { patientId: 'p1' }).status).toBe(fhir);
    }
  });
});
