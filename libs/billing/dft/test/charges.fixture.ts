/**
 * Synthetic charge events for the DFT^P03 tests: one patient visit at Northwind General (NWH)
 * with a lab panel, a CT read (professional component, modifier 26), a dispensed drug and a
 * HCPCS-coded injection. Codes and prices follow the charge-master starter set; patient and
 * providers are invented (NPIs pass the Luhn check but belong to no one).
 */
import type { ChargeEvent } from '@ancillary/contracts';
import { transactionIdFor, type DftOptions } from '../src';

export const NOW = new Date('2026-12-04T15:30:00Z');

export const OPTIONS: DftOptions = {
  reversalStyle: 'credit',
  sendingApplication: 'ANCILLARY-HUB',
  sendingFacility: 'NWH',
  receivingApplication: 'SIMBILL',
  receivingFacility: 'NWH-BILL',
  controlId: 'DFT0001',
  now: NOW,
};

/** A charge event with the given event id, its FT1-2 derived from it as billing-trigger does. */
export function chargeEvent(eventId: string, fields: Partial<ChargeEvent> = {}): ChargeEvent {
  return {
    eventId,
    chargeKey: 'F1001|30000101|2026-12-04',
    action: 'CHARGE',
    transactionId: transactionIdFor(eventId),
    reversesTransactionId: null,
    reversesEventId: null,
    sourceKind: 'LAB',
    patient: {
      identifiers: [
        { value: 'MRN1001', system: 'NWH', type: 'MR' },
        { value: '900112233', system: 'urn:oid:2.16.840.1.113883.4.1', type: 'SS' },
      ],
      familyName: 'Rivera',
      givenNames: ['Ana', 'Lucia'],
      birthDate: '1970-03-15',
      administrativeSex: 'F',
    },
    accountNumber: 'ACC77001',
    visitNumber: 'V9001',
    patientClass: 'O',
    placerOrderNumber: 'PL1001',
    fillerOrderNumber: 'F1001',
    dateOfService: Date.parse('2026-12-04T09:15:00Z'),
    chargeCode: '30000101',
    description: 'Basic metabolic panel',
    cptHcpcs: '80048',
    modifiers: [],
    revenueCode: '0301',
    department: 'LAB-CHEM',
    quantity: 1,
    unitPriceCents: 4200,
    extendedPriceCents: 4200,
    orderingProvider: { id: '1234567893', familyName: 'Okafor', givenName: 'Ngozi' },
    performingProvider: null,
    diagnoses: [
      { code: 'E11.9', display: 'Type 2 diabetes mellitus without complications' },
      { code: 'I10', display: 'Essential (primary) hypertension' },
    ],
    ndc: null,
    sourceEventIds: ['lab-result-1'],
    chargeMasterVersion: '2026.12.0',
    createdAt: NOW.getTime(),
    ...fields,
  };
}

export const LAB = chargeEvent('charge:F1001|30000101|2026-12-04:1');

export const CT_READ = chargeEvent('charge:A2002|40010201|2026-12-04:1', {
  chargeKey: 'A2002|40010201|2026-12-04',
  sourceKind: 'IMAGING',
  placerOrderNumber: 'PL2002',
  fillerOrderNumber: 'A2002',
  dateOfService: Date.parse('2026-12-04T11:02:00Z'),
  chargeCode: '40010201',
  description: 'CT head without contrast (professional)',
  cptHcpcs: '70450',
  modifiers: ['26'],
  revenueCode: '0351',
  department: 'RAD-CT',
  unitPriceCents: 21000,
  extendedPriceCents: 21000,
  performingProvider: { id: '1245319599', familyName: 'Lindqvist', givenName: 'Maja' },
  diagnoses: [{ code: 'R51.9', display: 'Headache, unspecified' }],
  sourceEventIds: ['imaging-report-7'],
});

/** 30 tablets dispensed: the quantity comes from the dispense. */
export const DRUG = chargeEvent('dispense:RX3003:1', {
  chargeKey: 'dispense:RX3003',
  sourceKind: 'PHARMACY',
  placerOrderNumber: 'PL3003',
  fillerOrderNumber: 'RX3003',
  dateOfService: Date.parse('2026-12-04T13:40:00Z'),
  chargeCode: '50000101',
  description: 'Amlodipine 5 mg tablet',
  cptHcpcs: null,
  revenueCode: '0250',
  department: 'PHARM',
  quantity: 30,
  unitPriceCents: 45,
  extendedPriceCents: 1350,
  diagnoses: [{ code: 'I10', display: 'Essential (primary) hypertension' }],
  ndc: '99901-0101-30',
  sourceEventIds: ['dispense-3'],
});

/** A HCPCS-coded drug: 2 g ceftriaxone = 8 units of "per 250 mg". */
export const INJECTION = chargeEvent('dispense:RX3004:1', {
  chargeKey: 'dispense:RX3004',
  sourceKind: 'PHARMACY',
  fillerOrderNumber: 'RX3004',
  chargeCode: '50000201',
  description: 'Injection, ceftriaxone sodium, per 250 mg',
  cptHcpcs: 'J0696',
  revenueCode: '0636',
  department: 'PHARM-INJ',
  quantity: 8,
  unitPriceCents: 625,
  extendedPriceCents: 5000,
  ndc: '99902-0201-10',
});

/** The credit reversing a charge (a cancellation after charging). */
export function creditFor(original: ChargeEvent, sequence = 2): ChargeEvent {
  const eventId = `${original.chargeKey}:credit:${sequence}`;
  return {
    ...original,
    eventId,
    action: 'CREDIT',
    transactionId: transactionIdFor(eventId),
    reversesTransactionId: original.transactionId,
    reversesEventId: original.eventId,
    createdAt: NOW.getTime(),
  };
}
