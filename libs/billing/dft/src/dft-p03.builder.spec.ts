import type { ChargeEvent } from '@ancillary/contracts';
import { Hl7Message } from '@ancillary/hl7-core';
import { BillingLedger, readDftP03 } from '@ancillary/simulators';
import { buildDftP03, dftControlId, DftBuildError, type DftOptions } from './dft-p03.builder';

const NOW = new Date('2026-12-04T15:30:00Z');
const OPTIONS: DftOptions = {
  reversalStyle: 'credit',
  sendingApplication: 'ANCILLARY-HUB',
  sendingFacility: 'NWH',
  receivingApplication: 'SIMBILL',
  receivingFacility: 'NWH-BILL',
  now: NOW,
};

function charge(overrides: Partial<ChargeEvent> = {}): ChargeEvent {
  return {
    eventId: 'e-1',
    chargeKey: 'F1001|30000101|2026-12-04',
    action: 'CHARGE',
    transactionId: 'T0001',
    reversesTransactionId: null,
    sourceKind: 'LAB',
    patient: {
      identifiers: [{ value: 'MRN1001', system: 'NWH', type: 'MR' }],
      familyName: "O'Brien|Smith",
      givenNames: ['Ann', 'Marie'],
      birthDate: '1970-03-15',
      administrativeSex: 'F',
    },
    accountNumber: 'ACC77',
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
    sourceEventIds: ['lab-1'],
    chargeMasterVersion: '2026.12.0',
    createdAt: NOW.getTime(),
    ...overrides,
  };
}

const IMAGING = charge({
  transactionId: 'T0002',
  sourceKind: 'IMAGING',
  fillerOrderNumber: 'A2002',
  chargeCode: '40000201',
  description: 'CT head without contrast (technical)',
  cptHcpcs: '70450',
  modifiers: ['TC'],
  revenueCode: '0351',
  department: 'RAD-CT',
  unitPriceCents: 89000,
  extendedPriceCents: 89000,
});

const DRUG = charge({
  transactionId: 'T0003',
  sourceKind: 'PHARMACY',
  chargeKey: 'dispense:RX3003',
  fillerOrderNumber: 'RX3003',
  chargeCode: '50000101',
  description: 'Amlodipine 5 mg tablet',
  cptHcpcs: null,
  revenueCode: '0250',
  department: 'PHARM',
  quantity: 30,
  unitPriceCents: 45,
  extendedPriceCents: 1350,
  ndc: '99901-0101-30',
});

function roundTrip(message: Hl7Message) {
  return readDftP03(Hl7Message.parse(message.toString()));
}

describe('buildDftP03', () => {
  it('writes MSH, EVN P03, PID with the account, PV1 with class and visit, and an FT1 per charge (v2.5)', () => {
    const message = buildDftP03([charge(), IMAGING, DRUG], OPTIONS);
    const text = message.toString().split('\r');
    expect(text[0]).toMatch(
      /^MSH\|\^~\\&\|ANCILLARY-HUB\|NWH\|SIMBILL\|NWH-BILL\|20261204153000\+0000\|\|DFT\^P03\^DFT_P03\|D[0-9A-F]{19}\|P\|2\.5$/,
    );
    expect(text[1]).toBe('EVN|P03|20261204153000+0000');
    expect(text[2]).toBe(
      "PID|1||MRN1001^^^NWH^MR||O'Brien\\F\\Smith^Ann^Marie||19700315|F||||||||||ACC77",
    );
    expect(text[3]).toBe('PV1|1|O|||||||||||||||||V9001');
    expect(text[4]).toBe(
      'FT1|1|T0001||20261204091500+0000|20261204153000+0000|CG|30000101^Basic metabolic panel^99CDM|||1|42.00&USD|42.00&USD|LAB-CHEM||||||E11.9^Type 2 diabetes mellitus without complications^I10~I10^Essential (primary) hypertension^I10||1234567893^Okafor^Ngozi||F1001||80048^Basic metabolic panel^C4',
    );
    expect(text[5]).toContain('|70450^CT head without contrast (technical)^C4|TC');
    expect(text[6]).toMatch(
      /\|30\|13\.50&USD\|0\.45&USD\|PHARM\|.*\|RX3003\|\|\|\|\|\|99901-0101-30\^\^NDC$/,
    );
  });

  it('is read back field for field by the billing simulator (an independent reader)', () => {
    const dft = roundTrip(buildDftP03([charge(), IMAGING, DRUG], OPTIONS));
    expect(dft).toMatchObject({
      messageType: 'DFT^P03',
      eventType: 'P03',
      patient: { mrn: 'MRN1001', assigningAuthority: 'NWH', accountNumber: 'ACC77' },
    });
    const [lab, ct, rx] = dft.transactions;
    expect(lab).toMatchObject({
      transactionId: 'T0001',
      transactionType: 'CG',
      chargeCode: '30000101',
      quantity: 1,
      extendedAmount: 42,
      unitAmount: 42,
      department: 'LAB-CHEM',
      diagnoses: ['E11.9', 'I10'],
      fillerOrderNumber: 'F1001',
      procedureCode: '80048',
    });
    expect(ct).toMatchObject({ procedureCode: '70450', modifiers: ['TC'], extendedAmount: 890 });
    expect(rx).toMatchObject({
      quantity: 30,
      extendedAmount: 13.5,
      ndc: '99901-0101-30',
      procedureCode: null,
    });
  });

  it.each(['credit', 'negative-charge'] as const)(
    'a %s reversal nets the charge to zero on the billing ledger',
    (reversalStyle) => {
      const original = charge();
      const reversal = charge({
        eventId: 'e-2',
        action: 'CREDIT',
        transactionId: 'T0001R',
        reversesTransactionId: 'T0001',
      });
      const ledger = new BillingLedger();
      ledger.post(roundTrip(buildDftP03([original], { ...OPTIONS, reversalStyle })), NOW);
      const message = buildDftP03([reversal], { ...OPTIONS, reversalStyle });
      const [line] = roundTrip(message).transactions;
      if (reversalStyle === 'credit') {
        expect(line).toMatchObject({
          transactionType: 'CD',
          quantity: 1,
          extendedAmount: 42,
          batchId: 'T0001',
        });
      } else {
        expect(line).toMatchObject({
          transactionType: 'CG',
          quantity: -1,
          extendedAmount: -42,
          batchId: 'T0001',
        });
      }
      ledger.post(roundTrip(message), NOW);
      expect(ledger.netByChargeKey()).toEqual([
        expect.objectContaining({ quantity: 0, amount: 0 }),
      ]);
      expect(ledger.totals().duplicates).toBe(0);
    },
  );

  it('v2.3: DFT^P03 without structure, and the NDC in FT1-25 (there is no FT1-29)', () => {
    const text = buildDftP03([DRUG], { ...OPTIONS, version: '2.3' })
      .toString()
      .split('\r');
    expect(text[0]).toMatch(/\|DFT\^P03\|D[0-9A-F]{19}\|P\|2\.3$/);
    expect(text[4]).toMatch(/\|99901-0101-30\^Amlodipine 5 mg tablet\^NDC$/);
    expect(buildDftP03([IMAGING], { ...OPTIONS, version: '2.4' }).toString()).toContain(
      '|DFT^P03^DFT_P03|',
    );
  });

  it('gives the same lines the same MSH-10, and HCPCS codes their own system', () => {
    expect(dftControlId([charge()])).toBe(dftControlId([charge()]));
    expect(dftControlId([charge()])).not.toBe(dftControlId([IMAGING]));
    const injection = charge({
      cptHcpcs: 'J0696',
      description: 'Injection, ceftriaxone sodium, per 250 mg',
      quantity: 4,
    });
    expect(buildDftP03([injection], OPTIONS).toString()).toContain(
      '|J0696^Injection, ceftriaxone sodium, per 250 mg^HCPCS',
    );
  });

  it('refuses lines of two patients or visits, a credit without its original, and an empty batch', () => {
    const other = charge({ visitNumber: 'V9999', transactionId: 'T0009' });
    expect(() => buildDftP03([charge(), other], OPTIONS)).toThrow(DftBuildError);
    const orphan = charge({ action: 'CREDIT', reversesTransactionId: null });
    expect(() => buildDftP03([orphan], OPTIONS)).toThrow(/does not name the charge it reverses/);
    expect(() => buildDftP03([], OPTIONS)).toThrow(DftBuildError);
  });
});
