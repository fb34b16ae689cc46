import { Hl7Message } from '@ancillary/hl7-core';
import { readDftP03 } from './billing-dft.reader';
import { BillingLedger, billingLedgerTable, billingTotalsTable } from './billing-ledger';

/** One FT1 as a test states it; everything else is a plausible default. */
interface Ft1 {
  id: string;
  code?: string;
  type?: string;
  /** FT1-4 (date of service). */
  date?: string;
  qty?: string;
  ext?: string;
  unit?: string;
  dept?: string;
  /** FT1-3: the charge a credit reverses. */
  ref?: string;
  filler?: string;
  mods?: string;
  /** FT1-28. */
  reason?: string;
}

/** A segment from its fields by number (HL7 text, hand-written values). */
function segment(name: string, fields: Record<number, string | undefined>): string {
  const last = Math.max(...Object.keys(fields).map(Number));
  const values = Array.from({ length: last }, (_, i) => fields[i + 1] ?? '');
  return [name, ...values].join('|');
}

function ft1(set: number, f: Ft1): string {
  return segment('FT1', {
    1: String(set),
    2: f.id,
    3: f.ref,
    4: f.date ?? '20260105081500+0000',
    5: '20260105093000+0000',
    6: f.type ?? 'CG',
    7: `${f.code ?? '30012345'}^Charge ${f.code ?? '30012345'}^NWHCDM`,
    10: f.qty ?? '1',
    11: f.ext ?? '42.00',
    12: f.unit,
    13: `${f.dept ?? 'LAB'}^Department`,
    23: f.filler === undefined ? undefined : `${f.filler}^SIMLIS`,
    26: f.mods,
    28: f.reason,
  });
}

let controlSeq = 0;

/** A v2.5 DFT^P03 for one patient. */
function dft(ft1s: Ft1[], patient: { mrn?: string; authority?: string } = {}): Hl7Message {
  const controlId = `LEDGER-${++controlSeq}`;
  return Hl7Message.parse(
    [
      `MSH|^~\\&|ANCILLARY-HUB|NWH|SIMBILL|NWH-BILL|20260105093000+0000||DFT^P03^DFT_P03|${controlId}|P|2.5`,
      'EVN|P03|20260105093000+0000',
      segment('PID', {
        1: '1',
        3: `${patient.mrn ?? '40001234'}^^^${patient.authority ?? 'NWH'}^MR`,
        5: 'Test^Pat',
        18: 'ACC-7001',
      }),
      segment('PV1', { 1: '1', 2: 'O', 19: 'V-9001' }),
      ...ft1s.map((f, i) => ft1(i + 1, f)),
      '',
    ].join('\r'),
  );
}

const AT = new Date('2026-01-05T09:30:00Z');

function post(ledger: BillingLedger, ...args: Parameters<typeof dft>) {
  return ledger.post(readDftP03(dft(...args)), AT);
}

describe('BillingLedger', () => {
  it('posts one line per FT1 with its message, and totals per department', () => {
    const ledger = new BillingLedger();
    const posted = post(ledger, [
      { id: 'T1', code: '30012345', ext: '42.00', dept: 'LAB' },
      { id: 'T2', code: '40071046', ext: '180.00', dept: 'RAD', mods: '26~LT' },
      { id: 'T3', code: '50099901', qty: '30', ext: '9.00', unit: '0.30', dept: 'PHARM' },
    ]);
    expect(posted.map((l) => [l.seq, l.controlId, l.transactionId, l.amount])).toEqual([
      [1, `LEDGER-${controlSeq}`, 'T1', 42],
      [2, `LEDGER-${controlSeq}`, 'T2', 180],
      [3, `LEDGER-${controlSeq}`, 'T3', 9],
    ]);
    expect(posted[0]).toMatchObject({
      receivedAt: AT,
      patientMrn: '40001234',
      assigningAuthority: 'NWH',
      accountNumber: 'ACC-7001',
      visitNumber: 'V-9001',
      patientClass: 'O',
      chargeKey: '40001234^NWH|30012345|20260105',
      reversal: false,
      netQuantity: 1,
      duplicate: false,
      reverses: null,
      fullyReversed: false,
    });
    expect(posted[2]?.netQuantity).toBe(30);
    expect(ledger.totals()).toEqual({
      lines: 3,
      charges: 3,
      reversals: 0,
      grossCharges: 231,
      credits: 0,
      net: 231,
      duplicates: 0,
      duplicateAmount: 0,
      unmatchedReversals: 0,
      byDepartment: [
        { department: 'LAB', lines: 1, grossCharges: 42, credits: 0, net: 42 },
        { department: 'PHARM', lines: 1, grossCharges: 9, credits: 0, net: 9 },
        { department: 'RAD', lines: 1, grossCharges: 180, credits: 0, net: 180 },
      ],
    });
  });

  it('prices a line without FT1-11 as quantity × unit, and sums in cents', () => {
    const ledger = new BillingLedger();
    post(ledger, [
      { id: 'T1', code: 'A', qty: '3', ext: '', unit: '0.10' },
      { id: 'T2', code: 'B', ext: '0.20' },
    ]);
    expect(ledger.lines().map((l) => l.amount)).toEqual([0.3, 0.2]);
    // 0.1 + 0.2 in floating point is 0.30000000000000004
    expect(ledger.totals().grossCharges).toBe(0.5);
  });

  it('flags a charge for the same patient, charge code and day as an open charge, and posts it', () => {
    const ledger = new BillingLedger();
    post(ledger, [{ id: 'T1', date: '20260105081500+0000' }]);
    // same day, later in the day, another message: a duplicate
    const [dup] = post(ledger, [{ id: 'T2', date: '20260105231500+0000' }]);
    expect(dup).toMatchObject({ duplicate: true, duplicateOf: 1, amount: 42 });
    // another day, another code, another patient (same MRN of another assigning authority)
    post(ledger, [{ id: 'T3', date: '20260106081500+0000' }]);
    post(ledger, [{ id: 'T4', code: '30099999' }]);
    post(ledger, [{ id: 'T5' }], { authority: 'OTHER' });
    expect(ledger.lines().map((l) => l.duplicate)).toEqual([false, true, false, false, false]);
    expect(ledger.totals()).toMatchObject({ duplicates: 1, duplicateAmount: 42, net: 210 });
  });

  it('flags a second line of the same message too', () => {
    const ledger = new BillingLedger();
    const lines = post(ledger, [{ id: 'T1' }, { id: 'T2' }]);
    expect(lines.map((l) => l.duplicateOf)).toEqual([null, 1]);
  });

  it('does not flag a repeat declared medically necessary (modifier 91 / 76, FT1-28)', () => {
    const ledger = new BillingLedger();
    post(ledger, [{ id: 'T1' }]);
    post(ledger, [{ id: 'T2', mods: '91^Repeat clinical diagnostic laboratory test^C4' }]);
    post(ledger, [{ id: 'T3', mods: 'LT~76' }]);
    post(ledger, [{ id: 'T4', reason: 'R^Repeat ordered^HL70476' }]);
    post(ledger, [{ id: 'T5', mods: '26' }]);
    expect(ledger.lines().map((l) => l.duplicate)).toEqual([false, false, false, false, true]);

    const strict = new BillingLedger({ duplicateExemptModifiers: [] });
    post(strict, [{ id: 'T1' }]);
    post(strict, [{ id: 'T2', mods: '91' }]);
    expect(strict.lines().map((l) => l.duplicate)).toEqual([false, true]);
  });

  it('nets a credit (CD naming the charge in FT1-3) against its charge: the key nets to zero', () => {
    const ledger = new BillingLedger();
    post(ledger, [{ id: 'T1', filler: 'F1', qty: '2', ext: '84.00', unit: '42.00' }]);
    // credits are often sent with positive amounts: the type says it is a credit
    const [credit] = post(ledger, [
      { id: 'T2', type: 'CD', ref: 'T1', filler: 'F1', qty: '2', ext: '84.00' },
    ]);
    expect(credit).toMatchObject({ reversal: true, reverses: 1, amount: -84, netQuantity: -2 });
    expect(ledger.lines()[0]).toMatchObject({
      reversedQuantity: 2,
      reversedAmount: 84,
      reversedBy: [2],
      fullyReversed: true,
    });
    expect(ledger.netByChargeKey()).toEqual([
      {
        chargeKey: '40001234^NWH|30012345|20260105',
        patientMrn: '40001234',
        assigningAuthority: 'NWH',
        chargeCode: '30012345',
        dateOfService: '20260105',
        lines: 2,
        quantity: 0,
        amount: 0,
      },
    ]);
    expect(ledger.totals()).toMatchObject({
      charges: 1,
      reversals: 1,
      grossCharges: 84,
      credits: 84,
      net: 0,
      unmatchedReversals: 0,
    });
  });

  it('nets a negative-quantity charge (CG, FT1-10 < 0) against the charge with the same key', () => {
    const ledger = new BillingLedger();
    post(ledger, [{ id: 'T1', code: 'RX1', qty: '30', ext: '9.00', dept: 'PHARM' }]);
    // the amount may come signed or not; the negative quantity makes it a reversal either way
    const [reversal] = post(ledger, [
      { id: 'T2', code: 'RX1', qty: '-30', ext: '9.00', dept: 'PHARM' },
    ]);
    expect(reversal).toMatchObject({
      transactionType: 'CG',
      reversal: true,
      reverses: 1,
      netQuantity: -30,
      amount: -9,
    });
    expect(ledger.netByChargeKey()).toEqual([
      expect.objectContaining({ chargeCode: 'RX1', quantity: 0, amount: 0, lines: 2 }),
    ]);
    expect(ledger.totals().byDepartment).toEqual([
      { department: 'PHARM', lines: 2, grossCharges: 9, credits: 9, net: 0 },
    ]);
  });

  it('posts a corrected quantity (credit then new charge) without a duplicate flag', () => {
    const ledger = new BillingLedger();
    post(ledger, [{ id: 'T1', qty: '1', ext: '42.00' }]);
    const [credit, charge] = post(ledger, [
      { id: 'T2', type: 'CD', ref: 'T1', qty: '1', ext: '42.00' },
      { id: 'T3', qty: '2', ext: '84.00' },
    ]);
    expect(credit?.reverses).toBe(1);
    expect(charge?.duplicate).toBe(false);
    expect(ledger.netByChargeKey()[0]).toMatchObject({ quantity: 2, amount: 84 });
  });

  it('a second credit for a charge already reversed is unmatched, never moved to another charge', () => {
    const ledger = new BillingLedger();
    post(ledger, [{ id: 'T1' }]);
    post(ledger, [{ id: 'T2', type: 'CD', ref: 'T1' }]);
    post(ledger, [{ id: 'T3' }]); // the charge again, e.g. re-ordered: open, not a duplicate
    const [again] = post(ledger, [{ id: 'T4', type: 'CD', ref: 'T1' }]);
    expect(again).toMatchObject({ reversal: true, reverses: null });
    expect(ledger.lines()[2]).toMatchObject({ duplicate: false, fullyReversed: false });
    expect(ledger.totals()).toMatchObject({ unmatchedReversals: 1, net: 0 });
  });

  it('without FT1-3, a reversal takes the most recent open charge of the key, same filler first', () => {
    const ledger = new BillingLedger();
    post(ledger, [{ id: 'T1', filler: 'F1' }]);
    post(ledger, [{ id: 'T2', filler: 'F2' }]); // flagged duplicate of #1
    post(ledger, [{ id: 'T3', filler: 'F3', date: '20260106' }]);
    const [byFiller] = post(ledger, [{ id: 'T4', qty: '-1', filler: 'F1' }]);
    expect(byFiller?.reverses).toBe(1);
    const [latest] = post(ledger, [{ id: 'T5', type: 'CD', ref: 'BATCH-77' }]);
    // FT1-3 names no transaction on the ledger (a real batch id): matched by key, most recent
    expect(latest?.reverses).toBe(2);
    const [nothing] = post(ledger, [{ id: 'T6', type: 'CD', code: 'NEVER-CHARGED' }]);
    expect(nothing?.reverses).toBeNull();
    expect(ledger.totals().unmatchedReversals).toBe(1);
  });

  it('a partial reversal leaves the charge open (and a new charge of the key a duplicate)', () => {
    const ledger = new BillingLedger();
    post(ledger, [{ id: 'T1', qty: '3', ext: '126.00' }]);
    post(ledger, [{ id: 'T2', qty: '-1', ext: '-42.00', ref: 'T1' }]);
    expect(ledger.lines()[0]).toMatchObject({
      reversedQuantity: 1,
      reversedAmount: 42,
      fullyReversed: false,
    });
    const [more] = post(ledger, [{ id: 'T3' }]);
    expect(more?.duplicate).toBe(true);
    expect(ledger.netByChargeKey()[0]).toMatchObject({ quantity: 3, amount: 126 });
  });

  it('a credit with the full amount closes the charge even without a quantity', () => {
    const ledger = new BillingLedger();
    post(ledger, [{ id: 'T1', qty: '3', ext: '126.00' }]);
    post(ledger, [{ id: 'T2', type: 'CD', ref: 'T1', qty: '', ext: '126.00' }]);
    expect(ledger.lines()[0]?.fullyReversed).toBe(true);
    expect(ledger.netByChargeKey()[0]?.amount).toBe(0);
  });

  it('prints the ledger and the totals as tables, with the review notes and without the MRN', () => {
    const ledger = new BillingLedger();
    post(ledger, [{ id: 'T1', filler: 'F1', mods: '26~LT' }]);
    post(ledger, [{ id: 'T2' }]);
    post(ledger, [{ id: 'T3', type: 'CD', ref: 'T1' }]);
    const table = billingLedgerTable(ledger.lines());
    const rows = table.split('\n');
    expect(rows[0]).toMatch(/^\| # \| control id +\| txn \| type \| service date \| account +\|/);
    expect(rows[2]).toMatch(
      /^\| 1 \| LEDGER-\d+ +\| T1 +\| CG +\| 2026-01-05 +\| ACC-7001 \| 30012345 +\| 26 LT +\|.*\| +1 \| +42\.00 \| LAB +\| F1 +\| reversed by #3 +\|$/,
    );
    expect(rows[3]).toContain('| DUPLICATE of #1');
    expect(rows[4]).toMatch(/\| +-1 \| +-42\.00 \|.*\| reverses #1 +\|$/);
    expect(table).not.toContain('40001234');
    const totals = billingTotalsTable(ledger.totals());
    expect(totals).toMatch(/\| LAB +\| +3 \| +84\.00 \| +42\.00 \| +42\.00 \|/);
    expect(totals).toMatch(/\| all +\| +3 \| +84\.00 \| +42\.00 \| +42\.00 \|/);
    expect(totals).toContain(
      '2 charge(s), 1 reversal(s); net 42.00. 1 duplicate(s) flagged for review (42.00); 0 unmatched reversal(s).',
    );
  });
});
