import type { LabResult } from '@ancillary/contracts';
import { dispense, imagingReport, labResult, T0 } from '../test/completions.fixture';
import {
  UnbillableWorkError,
  billableWork,
  dispenseReversal,
  providerFromName,
} from './billable-work';

describe('billableWork: lab results', () => {
  it('normalises a final result: order numbers, visit, date of service, LOINC then LOCAL', () => {
    const work = billableWork(labResult(), 'LAB');
    expect(work).toEqual({
      kind: 'LAB',
      sourceEventId: 'lab-result-0001',
      patient: labResult().patient,
      accountNumber: 'ACC-7001',
      visitNumber: 'V-8001',
      patientClass: 'O',
      placerOrderNumber: 'PLC-5001',
      fillerOrderNumber: 'FIL-9001',
      dispenseId: null,
      dateOfService: T0,
      triggers: [
        { kind: 'lab', system: 'LOINC', code: '51990-0' },
        { kind: 'lab', system: 'LOCAL', code: 'BMP' },
      ],
      quantity: 1,
      ndc: null,
      performingProvider: null,
      orderingProvider: { id: '5678', familyName: 'HOUSE', givenName: 'GREGORY MD' },
      status: 'FINAL',
    });
  });

  it('bills corrected results (C) like final ones', () => {
    expect(billableWork(labResult({ status: 'CORRECTED' }), 'LAB')?.status).toBe('CORRECTED');
  });

  it.each(['PRELIMINARY', 'CANCELLED', 'UNKNOWN'] as const)('skips a %s result', (status) => {
    expect(billableWork(labResult({ status }), 'LAB')).toBeUndefined();
  });

  it('skips a final result without a filler order number (no charge key, no FT1-23)', () => {
    const result = labResult();
    const unaccessioned = labResult({ order: { ...result.order, fillerOrderNumber: '  ' } });
    expect(billableWork(unaccessioned, 'LAB')).toBeUndefined();
  });

  it('takes the report time when the collection time is missing', () => {
    const work = billableWork(labResult({ effectiveAt: null, issuedAt: T0 + 99 }), 'LAB');
    expect(work?.dateOfService).toBe(T0 + 99);
  });

  it('refuses a billable result with no date of service rather than dating it by receipt', () => {
    expect(() => billableWork(labResult({ effectiveAt: null, issuedAt: null }), 'LAB')).toThrow(
      new UnbillableWorkError('lab-result-0001', 'no date of service (OBR-7 and OBR-22 empty)'),
    );
  });

  it('leaves the account and visit empty when the event has no visit', () => {
    const { visit: _visit, ...withoutVisit } = labResult();
    const work = billableWork({ ...withoutVisit, visit: null }, 'LAB');
    expect(work).toMatchObject({ accountNumber: null, visitNumber: null, patientClass: null });
    // An event serialised before `visit` existed has no such property at all.
    expect(billableWork(withoutVisit as LabResult, 'LAB')).toMatchObject({ accountNumber: null });
  });

  it('offers only the local code when the order code is not LOINC', () => {
    const result = labResult();
    const work = billableWork(
      labResult({
        order: { ...result.order, code: { system: 'urn:lis:local', code: 'X1', display: null } },
      }),
      'LAB',
    );
    expect(work?.triggers).toEqual([{ kind: 'lab', system: 'LOCAL', code: 'BMP' }]);
  });
});

describe('billableWork: imaging reports', () => {
  it('normalises a final report: CPT trigger, interpreter as performing provider', () => {
    expect(billableWork(imagingReport(), 'IMAGING')).toMatchObject({
      kind: 'IMAGING',
      fillerOrderNumber: 'RAD-7001',
      placerOrderNumber: 'PLC-6001',
      triggers: [{ kind: 'imaging', system: 'CPT', code: '71046' }],
      quantity: 1,
      dateOfService: T0,
      performingProvider: { id: 'NPI-1234567893', familyName: 'READER', givenName: 'RADHA' },
    });
  });

  it('keys a report without OBR-3 by its accession number', () => {
    expect(
      billableWork(imagingReport({ fillerOrderNumber: null }), 'IMAGING')?.fillerOrderNumber,
    ).toBe('ACC-RAD-7001');
  });

  it.each(['PRELIMINARY', 'CANCELLED', 'UNKNOWN'] as const)('skips a %s report', (status) => {
    expect(billableWork(imagingReport({ status }), 'IMAGING')).toBeUndefined();
  });
});

describe('billableWork: dispenses', () => {
  it('normalises a completed dispense: quantity, NDC, dispenser, dispense id', () => {
    expect(billableWork(dispense(), 'PHARMACY')).toMatchObject({
      kind: 'PHARMACY',
      dispenseId: 'DISP-3001',
      dateOfService: T0,
      triggers: [{ kind: 'pharmacy', system: 'NDC', code: '99902-0201-10' }],
      quantity: 2,
      ndc: '99902-0201-10',
      performingProvider: { id: 'RPH-22', familyName: 'PHARMACIST', givenName: 'PAT' },
    });
  });

  it('offers RxNorm after the NDC', () => {
    const work = billableWork(
      dispense({
        rxnorm: {
          system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
          code: '308135',
          display: null,
        },
      }),
      'PHARMACY',
    );
    expect(work?.triggers.map((t) => t.system)).toEqual(['NDC', 'RXNORM']);
  });

  it.each(['IN_PROGRESS', 'CANCELLED', 'ENTERED_IN_ERROR', 'UNKNOWN'] as const)(
    'skips a %s dispense',
    (status) => {
      expect(billableWork(dispense({ status }), 'PHARMACY')).toBeUndefined();
    },
  );

  it('reads a cancelled or entered-in-error dispense as the reversal of its dispense id', () => {
    expect(dispenseReversal(dispense({ status: 'CANCELLED' }))).toEqual({
      chargeKey: 'dispense:DISP-3001',
      reason: 'dispense-cancelled',
    });
    expect(dispenseReversal(dispense({ status: 'ENTERED_IN_ERROR' }))?.reason).toBe(
      'dispense-entered-in-error',
    );
    expect(dispenseReversal(dispense())).toBeUndefined();
    expect(dispenseReversal(dispense({ status: 'IN_PROGRESS' }))).toBeUndefined();
  });
});

describe('providerFromName', () => {
  it.each([
    ['HOUSE, GREGORY MD (5678)', { id: '5678', familyName: 'HOUSE', givenName: 'GREGORY MD' }],
    ['HOUSE, GREGORY', { id: null, familyName: 'HOUSE', givenName: 'GREGORY' }],
    ['Dr. Reader', { id: null, familyName: 'Dr. Reader', givenName: null }],
    ['5678', { id: '5678', familyName: null, givenName: null }],
    ['', null],
    [null, null],
  ])('%p', (name, provider) => {
    expect(providerFromName(name)).toEqual(provider);
  });
});
