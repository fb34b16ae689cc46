/**
 * The demo's billing arithmetic: the demo's charges picked from a ledger that holds others' too,
 * per loop; what is missing, charged though cancelled, flagged as a duplicate; and the plan
 * adjusted so that no patient has the same thing ordered twice (the engine would flag it).
 */
import type { PlannedOrder, SyntheticPatient } from '@ancillary/simulators';
import {
  allCharged,
  avoidSameDayRepeats,
  formatBillingSummary,
  ledgerSnapshotSchema,
  summarizeBilling,
  type BilledOrder,
  type DemoLedgerLine,
} from './billing-summary';

let seq = 0;
function line(
  filler: string | null,
  amount: number,
  extra: Partial<DemoLedgerLine> = {},
): DemoLedgerLine {
  seq++;
  return {
    seq,
    transactionId: `T${seq}`,
    transactionType: amount < 0 ? 'CD' : 'CG',
    chargeCode: '30000101',
    fillerOrderNumber: filler,
    department: 'LAB-CHEM',
    amount,
    reversal: amount < 0,
    duplicate: false,
    ...extra,
  };
}

const order = (
  kind: BilledOrder['kind'],
  filler: string | null,
  state: BilledOrder['state'] = 'completed',
): BilledOrder => ({
  kind,
  placerOrderNumber: `P-${filler ?? 'none'}`,
  fillerOrderNumber: filler,
  state,
});

describe('summarizeBilling', () => {
  it("counts the demo's charges per loop and ignores everybody else's", () => {
    const orders = [
      order('lab', 'F1'),
      order('lab', 'F2'),
      order('lab', 'F3', 'cancelled'),
      order('imaging', 'A1'),
      order('pharmacy', 'RX1'),
      order('pharmacy', null, 'rejected'),
    ];
    const ledger = [
      line('FOTHER', 99), // the unsolicited LIS traffic, an earlier run
      line('F1', 42),
      line('F2', 28),
      line('A1', 420, { department: 'RAD-US' }),
      line('RX1', 27, { department: 'PHARM' }),
      line(null, 5),
    ];
    const summary = summarizeBilling(orders, ledger);
    expect(allCharged(summary)).toBe(true);
    expect(summary.rows).toEqual([
      {
        kind: 'lab',
        completed: 2,
        charged: 2,
        charges: 2,
        chargedAmount: 70,
        reversals: 0,
        credits: 0,
        duplicates: 0,
        net: 70,
        notCompletedCharged: 0,
      },
      expect.objectContaining({ kind: 'imaging', completed: 1, charged: 1, net: 420 }),
      expect.objectContaining({ kind: 'pharmacy', completed: 1, charged: 1, net: 27 }),
    ]);
    expect(summary.unexpected).toEqual([]);
    expect(summary.duplicates).toEqual([]);
  });

  it('reports what is missing, charged though cancelled, and flagged as a duplicate', () => {
    const orders = [
      order('lab', 'F1'),
      order('lab', 'F2'),
      order('lab', 'F3', 'cancelled'),
      order('imaging', 'A1'),
    ];
    const ledger = [
      line('F1', 42),
      line('F1', 42, { duplicate: true }),
      line('F3', 19),
      line('F3', -19),
      line('A1', -1.1), // a credit alone is not a charge
    ];
    const summary = summarizeBilling(orders, ledger);
    expect(allCharged(summary)).toBe(false);
    expect(summary.missing.map((o) => o.placerOrderNumber)).toEqual(['P-F2', 'P-A1']);
    expect(summary.unexpected.map((u) => [u.order.placerOrderNumber, u.line.amount])).toEqual([
      ['P-F3', 19],
    ]);
    expect(summary.duplicates.map((d) => d.line.seq)).toEqual([ledger[1]?.seq]);
    expect(summary.rows[0]).toMatchObject({
      completed: 2,
      charged: 1,
      charges: 3,
      chargedAmount: 103,
      reversals: 1,
      credits: 19,
      duplicates: 1,
      net: 84,
      notCompletedCharged: 1,
    });
    expect(summary.rows[1]).toMatchObject({ charged: 0, charges: 0, credits: 1.1, net: -1.1 });
  });

  it('sums in cents', () => {
    const orders = [order('pharmacy', 'RX1'), order('pharmacy', 'RX2')];
    const summary = summarizeBilling(orders, [line('RX1', 0.1), line('RX2', 0.2)]);
    expect(summary.rows[2]?.net).toBe(0.3);
  });
});

describe('formatBillingSummary', () => {
  it('prints one row per loop and one for the three together', () => {
    const orders = [order('lab', 'F1'), order('imaging', 'A1'), order('pharmacy', 'RX1')];
    const text = formatBillingSummary(
      summarizeBilling(orders, [line('F1', 42), line('A1', 1650), line('RX1', 27)]).rows,
    );
    const rows = text.split('\n');
    expect(rows[0]).toMatch(
      /^loop +completed +charged +charges received +charged \$ +credits +credits \$ +duplicates flagged +ledger net \$/,
    );
    expect(rows[2]).toMatch(/^laboratory +1 +1\/1 +1 +42\.00 +0 +0\.00 +0 +42\.00 +0$/);
    expect(rows[3]).toMatch(/^imaging +1 +1\/1 +1 +1,650\.00 /);
    expect(rows[5]).toMatch(/^all three +3 +3\/3 +3 +1,719\.00 +0 +0\.00 +0 +1,719\.00 +0$/);
  });
});

describe('ledgerSnapshotSchema', () => {
  it('reads what GET /ledger answers, ignoring what the demo does not use', () => {
    const parsed = ledgerSnapshotSchema.parse({
      ledger: [{ ...line('F1', 42), receivedAt: '2026-01-05T08:00:00.000Z', modifiers: [] }],
      totals: {
        lines: 1,
        charges: 1,
        reversals: 0,
        grossCharges: 42,
        credits: 0,
        net: 42,
        duplicates: 0,
        duplicateAmount: 0,
        unmatchedReversals: 0,
        byDepartment: [],
      },
      netByChargeKey: [],
      received: [],
    });
    expect(parsed.ledger[0]).not.toHaveProperty('receivedAt');
    expect(() => ledgerSnapshotSchema.parse({ ledger: [{}], totals: {} })).toThrow();
  });
});

describe('avoidSameDayRepeats', () => {
  const patient = (mrn: string): SyntheticPatient => ({ mrn }) as SyntheticPatient;
  const planned = (kind: PlannedOrder['kind'], code: string, mrn: string): PlannedOrder =>
    ({
      kind,
      code,
      patient: patient(mrn),
      placerOrderNumber: `${kind}-${code}-${mrn}`,
    }) as PlannedOrder;

  it('gives a repeat to a patient of the plan who has not had it', () => {
    const plan = [
      planned('lab', '24323-8', '41'),
      planned('lab', '24323-8', '41'),
      planned('imaging', '71046', '42'),
      planned('imaging', '71046', '42'),
      planned('lab', '24323-8', '43'),
      planned('pharmacy', '24323-8', '41'), // another loop: not a repeat
    ];
    expect(avoidSameDayRepeats(plan)).toBe(0);
    expect(plan.map((o) => o.patient.mrn)).toEqual(['41', '42', '42', '41', '43', '41']);
  });

  it('keeps a repeat when every patient has had it, and says how many', () => {
    const plan = [
      planned('lab', 'X', '41'),
      planned('lab', 'X', '41'),
      planned('pharmacy', 'X', '41'),
    ];
    expect(avoidSameDayRepeats(plan)).toBe(1);
    expect(plan.map((o) => o.patient.mrn)).toEqual(['41', '41', '41']);
  });
});
