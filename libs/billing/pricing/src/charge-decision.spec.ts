import { transactionIdFor } from '@ancillary/billing-dft';
import type { ChargeEvent } from '@ancillary/contracts';
import { NoChargeDefinedError, loadChargeMaster } from '@ancillary/charge-master';
import {
  NOW,
  TZ,
  T0,
  dispense,
  imagingReport,
  labResult,
  orderEvent,
  testChargeMaster,
} from '../test/completions.fixture';
import { billableWork, dispenseReversal, type BillableWork } from './billable-work';
import { chargeEventId } from './charge-ids';
import { chargeKeyFor, decideCharges, decideReversal, type ChargeRecord } from './charge-decision';
import { orderContext } from './order-context';

const cdm = testChargeMaster();
const options = { timeZone: TZ, now: NOW };

function work<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('expected billable work');
  return value;
}

const lab = (overrides: Parameters<typeof labResult>[0] = {}) =>
  work(billableWork(labResult(overrides), 'LAB'));
const study = () => work(billableWork(imagingReport(), 'IMAGING'));
const drug = (overrides: Parameters<typeof dispense>[0] = {}) =>
  work(billableWork(dispense(overrides), 'PHARMACY'));

function only(lines: readonly ChargeEvent[]): ChargeEvent {
  expect(lines).toHaveLength(1);
  return lines[0] as ChargeEvent;
}

describe('decideCharges: the first charge', () => {
  it('a final lab result is one CHARGE priced from the charge master', () => {
    const context = orderContext(orderEvent());
    const { lines, record } = decideCharges(undefined, lab(), context, cdm, options);
    const line = only(lines);
    const chargeKey = 'FIL-9001|30000101|2026-12-04';
    expect(line).toEqual({
      eventId: chargeEventId(chargeKey, 1),
      chargeKey,
      action: 'CHARGE',
      transactionId: transactionIdFor(chargeEventId(chargeKey, 1)),
      reversesTransactionId: null,
      reversesEventId: null,
      sourceKind: 'LAB',
      patient: labResult().patient,
      accountNumber: 'ACC-7001',
      visitNumber: 'V-8001',
      patientClass: 'O',
      placerOrderNumber: 'PLC-5001',
      fillerOrderNumber: 'FIL-9001',
      dateOfService: T0,
      chargeCode: '30000101',
      description: 'Basic metabolic panel',
      cptHcpcs: '80048',
      modifiers: [],
      revenueCode: '0301',
      department: 'LAB-CHEM',
      quantity: 1,
      unitPriceCents: 4200,
      extendedPriceCents: 4200,
      orderingProvider: { id: '1234567893', familyName: 'Wilson', givenName: 'James' },
      performingProvider: null,
      diagnoses: [
        { code: 'E11.9', display: 'Type 2 diabetes mellitus without complications' },
        { code: 'I10', display: 'Essential (primary) hypertension' },
      ],
      ndc: null,
      sourceEventIds: ['lab-result-0001', 'ServiceRequest/sr-1/_history/1'],
      chargeMasterVersion: 'test-2026.1',
      createdAt: NOW.getTime(),
    });
    expect(record).toEqual({
      chargeKey,
      sequence: 1,
      openCharge: line,
      reversed: false,
      reversalReason: null,
    });
  });

  it('without an order context: the completion’s own ordering provider, no diagnoses', () => {
    const line = only(decideCharges(undefined, lab(), undefined, cdm, options).lines);
    expect(line.orderingProvider).toEqual({
      id: '5678',
      familyName: 'HOUSE',
      givenName: 'GREGORY MD',
    });
    expect(line.diagnoses).toEqual([]);
    expect(line.sourceEventIds).toEqual(['lab-result-0001']);
  });

  it('dates the key by the day of service in the hospital’s time zone, not UTC', () => {
    // 02:30 UTC on the 5th is still the 4th in New York.
    const late = lab({ effectiveAt: Date.parse('2026-12-05T02:30:00Z') });
    expect(chargeKeyFor(late, cdm, TZ)).toBe('FIL-9001|30000101|2026-12-04');
    expect(chargeKeyFor(late, cdm, 'UTC')).toBe('FIL-9001|30000101|2026-12-05');
  });

  it('falls back to the LIS’s local code when the LOINC has no row', () => {
    const result = labResult();
    const sendOut = lab({
      order: {
        ...result.order,
        code: { system: 'http://loinc.org', code: '99999-9', display: null },
        localCode: { system: 'urn:lis:local', code: 'SENDOUT1', display: null },
      },
    });
    expect(only(decideCharges(undefined, sendOut, undefined, cdm, options).lines).chargeCode).toBe(
      '30000999',
    );
  });

  it('an imaging study carries CPT, modifier, revenue code and the interpreting radiologist', () => {
    const line = only(decideCharges(undefined, study(), undefined, cdm, options).lines);
    expect(line).toMatchObject({
      chargeKey: 'RAD-7001|40000101|2026-12-04',
      sourceKind: 'IMAGING',
      cptHcpcs: '71046',
      modifiers: ['TC'],
      revenueCode: '0324',
      extendedPriceCents: 18500,
      performingProvider: { id: 'NPI-1234567893', familyName: 'READER', givenName: 'RADHA' },
    });
  });

  it('a dispense is keyed by its id and charged in billing units (quantity × multiplier)', () => {
    const line = only(decideCharges(undefined, drug(), undefined, cdm, options).lines);
    expect(line).toMatchObject({
      chargeKey: 'dispense:DISP-3001',
      sourceKind: 'PHARMACY',
      chargeCode: '50000201',
      cptHcpcs: 'J0696',
      quantity: 8, // 2 vials of 1 g = 8 × "per 250 mg"
      unitPriceCents: 625,
      extendedPriceCents: 5000,
      ndc: '99902-0201-10',
      performingProvider: { id: 'RPH-22', familyName: 'PHARMACIST', givenName: 'PAT' },
    });
  });

  it('prices with the real starter charge master too', () => {
    const line = only(
      decideCharges(undefined, lab(), undefined, loadChargeMaster(), options).lines,
    );
    expect(line).toMatchObject({ chargeCode: '30000101', extendedPriceCents: 4200 });
  });
});

describe('decideCharges: exactly once', () => {
  const first = decideCharges(undefined, lab(), undefined, cdm, options);

  it('a replay of the same result is a no-op', () => {
    const again = decideCharges(first.record, lab(), undefined, cdm, {
      ...options,
      now: new Date(NOW.getTime() + 86_400_000),
    });
    expect(again.lines).toEqual([]);
    expect(again.record).toBe(first.record);
  });

  it('a resent result (new message, new event id) is a no-op', () => {
    const resent = lab({ eventId: 'lab-result-0002', messageControlId: 'MSG-0002' });
    expect(decideCharges(first.record, resent, undefined, cdm, options).lines).toEqual([]);
  });

  it('a corrected result (C) that changes nothing billable is a no-op', () => {
    const corrected = lab({ eventId: 'lab-result-0003', status: 'CORRECTED', issuedAt: T0 + 9e6 });
    expect(decideCharges(first.record, corrected, undefined, cdm, options)).toEqual({
      lines: [],
      record: first.record,
    });
  });

  it('the same inputs give the same lines and ids (a crash before recording republishes them)', () => {
    expect(decideCharges(undefined, lab(), undefined, cdm, options)).toEqual(first);
  });

  it('refuses a record of another key', () => {
    const other: ChargeRecord = { ...first.record, chargeKey: 'FIL-0000|30000101|2026-12-04' };
    expect(() => decideCharges(other, lab(), undefined, cdm, options)).toThrow(RangeError);
  });
});

describe('decideCharges: a quantity change on a correction', () => {
  const charged = decideCharges(undefined, drug(), undefined, cdm, options);
  const corrected = decideCharges(
    charged.record,
    drug({ eventId: 'dispense-0002', quantityValue: 3 }),
    undefined,
    cdm,
    options,
  );

  it('credits the original charge first, then charges the new quantity', () => {
    const original = only(charged.lines);
    expect(corrected.lines.map((l) => [l.action, l.quantity, l.extendedPriceCents])).toEqual([
      ['CREDIT', 8, 5000],
      ['CHARGE', 12, 7500],
    ]);
    const [credit, charge] = corrected.lines as [ChargeEvent, ChargeEvent];
    expect(credit).toMatchObject({
      reversesTransactionId: original.transactionId,
      reversesEventId: original.eventId,
      chargeCode: original.chargeCode,
      eventId: chargeEventId('dispense:DISP-3001', 2),
      sourceEventIds: ['dispense-0002', 'dispense-0001'],
    });
    expect(charge).toMatchObject({
      eventId: chargeEventId('dispense:DISP-3001', 3),
      reversesTransactionId: null,
      sourceEventIds: ['dispense-0002'],
    });
    expect(new Set([original.transactionId, credit.transactionId, charge.transactionId]).size).toBe(
      3,
    );
    expect(corrected.record).toMatchObject({ sequence: 3, openCharge: charge, reversed: false });
  });

  it('never writes a negative quantity or amount', () => {
    for (const line of [...charged.lines, ...corrected.lines]) {
      expect(line.quantity).toBeGreaterThan(0);
      expect(line.unitPriceCents).toBeGreaterThanOrEqual(0);
      expect(line.extendedPriceCents).toBeGreaterThanOrEqual(0);
    }
  });

  it('the corrected quantity replayed is a no-op', () => {
    const replay = decideCharges(
      corrected.record,
      drug({ eventId: 'dispense-0002', quantityValue: 3 }),
      undefined,
      cdm,
      options,
    );
    expect(replay.lines).toEqual([]);
  });

  it('a correction to quantity 0 credits and leaves nothing open; a later quantity charges again', () => {
    const zero = decideCharges(charged.record, drug({ quantityValue: 0 }), undefined, cdm, options);
    expect(zero.lines.map((l) => l.action)).toEqual(['CREDIT']);
    expect(zero.record).toMatchObject({ sequence: 2, openCharge: null, reversed: false });
    const back = decideCharges(zero.record, drug({ quantityValue: 1 }), undefined, cdm, options);
    expect(only(back.lines)).toMatchObject({ action: 'CHARGE', quantity: 4 });
    expect(back.record.sequence).toBe(3);
  });

  it('treats float noise in fractional quantities as the same quantity', () => {
    const tenth = decideCharges(
      undefined,
      drug({ quantityValue: 0.1 + 0.2 }),
      undefined,
      cdm,
      options,
    );
    expect(only(tenth.lines).quantity).toBe(1.2);
    expect(
      decideCharges(tenth.record, drug({ quantityValue: 0.3 }), undefined, cdm, options).lines,
    ).toEqual([]);
  });
});

describe('cancellations and returns', () => {
  const placed = orderContext(orderEvent());
  const cancelled = orderContext(
    orderEvent({ eventId: 'ServiceRequest/sr-1/_history/2', action: 'CANCEL' }),
    placed,
  );
  const charged = decideCharges(undefined, lab(), placed, cdm, options);

  it('a cancellation after charging is one CREDIT of the charge', () => {
    const { lines, record } = decideReversal(charged.record, 'order-cancelled', {
      now: NOW,
      sourceEventIds: ['ServiceRequest/sr-1/_history/2'],
    });
    const charge = only(charged.lines);
    expect(only(lines)).toMatchObject({
      action: 'CREDIT',
      chargeKey: charge.chargeKey,
      reversesTransactionId: charge.transactionId,
      reversesEventId: charge.eventId,
      quantity: 1,
      extendedPriceCents: 4200,
      diagnoses: charge.diagnoses,
      sourceEventIds: [
        'ServiceRequest/sr-1/_history/2',
        'lab-result-0001',
        'ServiceRequest/sr-1/_history/1',
      ],
    });
    expect(record).toMatchObject({
      sequence: 2,
      openCharge: null,
      reversed: true,
      reversalReason: 'order-cancelled',
    });
  });

  it('a cancellation replayed, or a completion replayed after it, changes nothing', () => {
    const reversal = decideReversal(charged.record, 'order-cancelled', { now: NOW });
    const reversed = reversal.record as ChargeRecord;
    expect(decideReversal(reversed, 'order-cancelled', { now: NOW })).toEqual({
      lines: [],
      record: reversed,
    });
    expect(decideCharges(reversed, lab(), placed, cdm, options)).toEqual({
      lines: [],
      record: reversed,
    });
  });

  it('a cancellation before charging produces nothing', () => {
    expect(decideReversal(undefined, 'order-cancelled', { now: NOW })).toEqual({
      lines: [],
      record: undefined,
    });
  });

  it('a completion of an order already cancelled is not charged, and stays uncharged', () => {
    const { lines, record } = decideCharges(undefined, lab(), cancelled, cdm, options);
    expect(lines).toEqual([]);
    expect(record).toMatchObject({
      sequence: 0,
      reversed: true,
      reversalReason: 'order-cancelled',
    });
    expect(decideCharges(record, lab(), placed, cdm, options).lines).toEqual([]);
  });

  it('a completion whose context turned cancelled credits the open charge', () => {
    const { lines } = decideCharges(charged.record, lab(), cancelled, cdm, options);
    expect(only(lines).action).toBe('CREDIT');
  });

  it('a returned dispense credits its charge; a return before the charge blocks a late charge', () => {
    const drugCharge = decideCharges(undefined, drug(), undefined, cdm, options);
    const returned = work(
      dispenseReversal(dispense({ eventId: 'dispense-9', status: 'CANCELLED' })),
    );
    const credit = decideReversal(drugCharge.record, returned.reason, {
      now: NOW,
      chargeKey: returned.chargeKey,
      sourceEventIds: ['dispense-9'],
    });
    expect(only(credit.lines)).toMatchObject({
      action: 'CREDIT',
      quantity: 8,
      reversesTransactionId: only(drugCharge.lines).transactionId,
    });

    // The completion was dead-lettered (say, no charge-master row) and is replayed after the return.
    const early = decideReversal(undefined, returned.reason, {
      now: NOW,
      chargeKey: returned.chargeKey,
    });
    expect(early.lines).toEqual([]);
    expect(early.record).toEqual({
      chargeKey: 'dispense:DISP-3001',
      sequence: 0,
      openCharge: null,
      reversed: true,
      reversalReason: 'dispense-cancelled',
    });
    expect(decideCharges(early.record, drug(), undefined, cdm, options).lines).toEqual([]);
  });
});

describe('errors', () => {
  it('work no charge-master row prices raises NoChargeDefinedError, permanent, naming the code', () => {
    const result = labResult();
    const unpriced: BillableWork = lab({
      order: {
        ...result.order,
        code: { system: 'http://loinc.org', code: '2345-7', display: 'Glucose' },
        localCode: { system: 'urn:lis:local', code: 'GLU', display: 'Glucose' },
      },
    });
    let error: unknown;
    try {
      decideCharges(undefined, unpriced, undefined, cdm, options);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(NoChargeDefinedError);
    expect((error as NoChargeDefinedError).retriable).toBe(false);
    expect((error as Error).message).toBe(
      'no charge defined for lab LOINC 2345-7 on 2026-12-04 (charge master test-2026.1)',
    );
  });
});
