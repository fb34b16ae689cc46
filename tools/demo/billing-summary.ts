/**
 * The demo's billing half: which of the demo's orders the simulated billing engine charged, per
 * loop (lab, imaging, pharmacy), read from the engine's read-only ledger (GET /ledger, served by
 * sim:ancillaries on 2594). The engine's ledger holds everything it was ever sent — the
 * unsolicited LIS traffic of `npm start`, earlier demo runs, tests — so the demo's charges are
 * picked by FT1-23, the filler order number the ancillary gave each order (its FILL identifier
 * in the chart).
 *
 * Kept apart from orders.ts (which runs on import) so that the arithmetic is unit-tested.
 */
import type { OrderKind, OrderState, PlannedOrder } from '@ancillary/simulators';
import { formatNumber } from '@ancillary/simulators';
import { z } from 'zod';
import { renderTable } from '../common/text-table';

/** What the demo reads of a ledger line (GET /ledger; the engine sends more). */
const ledgerLineSchema = z.object({
  seq: z.number(),
  transactionId: z.string(),
  transactionType: z.string(),
  chargeCode: z.string(),
  fillerOrderNumber: z.string().nullable(),
  department: z.string().nullable(),
  amount: z.number(),
  reversal: z.boolean(),
  duplicate: z.boolean(),
});
export type DemoLedgerLine = z.output<typeof ledgerLineSchema>;

export const ledgerSnapshotSchema = z.object({
  ledger: z.array(ledgerLineSchema),
  totals: z.object({
    lines: z.number(),
    charges: z.number(),
    reversals: z.number(),
    grossCharges: z.number(),
    credits: z.number(),
    net: z.number(),
    duplicates: z.number(),
    unmatchedReversals: z.number(),
  }),
});
export type DemoLedgerSnapshot = z.output<typeof ledgerSnapshotSchema>;

/** One of the demo's orders as billing sees it. */
export interface BilledOrder {
  kind: OrderKind;
  placerOrderNumber: string;
  /** The FILL identifier in the chart; null when the ancillary never gave one. */
  fillerOrderNumber: string | null;
  state: OrderState;
}

export interface BillingLoopRow {
  kind: OrderKind;
  /** Orders completed in the chart: each must have its charge. */
  completed: number;
  /** Completed orders with at least one charge on the ledger. */
  charged: number;
  /** Charge lines (FT1-6 CG, positive) and their sum. */
  charges: number;
  chargedAmount: number;
  /** Reversal lines (credits, negative quantities) and their sum, as a positive number. */
  reversals: number;
  credits: number;
  /** Charge lines the engine flagged as duplicates (same patient, charge code and day). */
  duplicates: number;
  /** chargedAmount − credits. */
  net: number;
  /** Charge lines for orders that were not completed (cancelled, rejected): must be none. */
  notCompletedCharged: number;
}

export interface BillingSummary {
  rows: BillingLoopRow[];
  /** Completed orders without a charge (yet). */
  missing: BilledOrder[];
  /** Charge lines of orders that were cancelled or rejected. */
  unexpected: { order: BilledOrder; line: DemoLedgerLine }[];
  /** The demo's lines flagged as duplicates. */
  duplicates: { order: BilledOrder; line: DemoLedgerLine }[];
}

const KINDS: readonly OrderKind[] = ['lab', 'imaging', 'pharmacy'];

const cents = (amount: number): number => Math.round(amount * 100);

/** The demo's part of the ledger, per loop. */
export function summarizeBilling(
  orders: readonly BilledOrder[],
  ledger: readonly DemoLedgerLine[],
): BillingSummary {
  const byFiller = new Map<string, DemoLedgerLine[]>();
  for (const line of ledger) {
    if (line.fillerOrderNumber === null) continue;
    const lines = byFiller.get(line.fillerOrderNumber) ?? [];
    lines.push(line);
    byFiller.set(line.fillerOrderNumber, lines);
  }
  const linesOf = (order: BilledOrder): DemoLedgerLine[] =>
    order.fillerOrderNumber === null ? [] : (byFiller.get(order.fillerOrderNumber) ?? []);
  const summary: BillingSummary = { rows: [], missing: [], unexpected: [], duplicates: [] };
  for (const kind of KINDS) {
    const mine = orders.filter((o) => o.kind === kind);
    const row = {
      kind,
      completed: 0,
      charged: 0,
      charges: 0,
      reversals: 0,
      duplicates: 0,
      notCompletedCharged: 0,
      gross: 0,
      credit: 0,
    };
    for (const order of mine) {
      const lines = linesOf(order);
      const charges = lines.filter((l) => !l.reversal);
      if (order.state === 'completed') {
        row.completed++;
        if (charges.length > 0) row.charged++;
        else summary.missing.push(order);
      } else {
        row.notCompletedCharged += charges.length;
        summary.unexpected.push(...charges.map((line) => ({ order, line })));
      }
      for (const line of lines) {
        if (line.reversal) {
          row.reversals++;
          row.credit += -cents(line.amount);
        } else {
          row.charges++;
          row.gross += cents(line.amount);
        }
        if (line.duplicate) {
          row.duplicates++;
          summary.duplicates.push({ order, line });
        }
      }
    }
    const { gross, credit, ...counts } = row;
    summary.rows.push({
      ...counts,
      chargedAmount: gross / 100,
      credits: credit / 100,
      net: (gross - credit) / 100,
    });
  }
  return summary;
}

/** Every completed order has its charge. */
export function allCharged(summary: BillingSummary): boolean {
  return summary.missing.length === 0;
}

const money = (amount: number): string => formatNumber(amount, 2);

/** The per-loop table, with a line for the three loops together. */
export function formatBillingSummary(rows: readonly BillingLoopRow[]): string {
  const names = { lab: 'laboratory', imaging: 'imaging', pharmacy: 'pharmacy' };
  const count = (pick: (r: BillingLoopRow) => number): number =>
    rows.reduce((total, r) => total + pick(r), 0);
  const sum = (pick: (r: BillingLoopRow) => number): number =>
    rows.reduce((total, r) => total + cents(pick(r)), 0) / 100;
  const line = (name: string, r: Omit<BillingLoopRow, 'kind'>) => [
    name,
    r.completed,
    `${r.charged}/${r.completed}`,
    r.charges,
    money(r.chargedAmount),
    r.reversals,
    money(r.credits),
    r.duplicates,
    money(r.net),
    r.notCompletedCharged,
  ];
  const all = {
    completed: count((r) => r.completed),
    charged: count((r) => r.charged),
    charges: count((r) => r.charges),
    chargedAmount: sum((r) => r.chargedAmount),
    reversals: count((r) => r.reversals),
    credits: sum((r) => r.credits),
    duplicates: count((r) => r.duplicates),
    net: sum((r) => r.net),
    notCompletedCharged: count((r) => r.notCompletedCharged),
  };
  return renderTable(
    [
      'loop',
      'completed',
      'charged',
      'charges received',
      'charged $',
      'credits',
      'credits $',
      'duplicates flagged',
      'ledger net $',
      'cancelled/rejected charged',
    ],
    [...rows.map((r) => line(names[r.kind], r)), line('all three', all)],
    { alignRight: [2, 4, 6, 8] },
  );
}

/**
 * The plan with no patient ordered the same thing twice: a billing engine flags a second charge
 * for the same patient, charge code and day as a duplicate (rightly — the demo's random mix is
 * not a clinical repeat), so a repeat goes to another patient of the plan who has not had it.
 * A repeat is kept when every patient has had it (a tiny --patients); returns how many.
 */
export function avoidSameDayRepeats(plan: PlannedOrder[]): number {
  const patients = [...new Map(plan.map((o) => [o.patient.mrn, o.patient])).values()];
  const taken = new Set<string>();
  const key = (order: PlannedOrder, mrn: string): string => `${order.kind}|${order.code}|${mrn}`;
  let kept = 0;
  for (const order of plan) {
    if (taken.has(key(order, order.patient.mrn))) {
      const other = patients.find((p) => !taken.has(key(order, p.mrn)));
      if (other) order.patient = other;
      else kept++;
    }
    taken.add(key(order, order.patient.mrn));
  }
  return kept;
}
