/**
 * The simulated billing engine's ledger: one line per FT1 it accepted, in posting order, and
 * the two checks a billing engine makes as it posts.
 *
 * **Duplicate charges.** A charge (FT1-6 `CG`, positive quantity) for the same patient (MRN and
 * assigning authority), charge code and date of service as a charge already posted and not
 * fully reversed is posted all the same and flagged `duplicate` for review — what patient
 * accounting systems do, and what payers do with "suspect duplicate" claim lines (CMS Medicare
 * Claims Processing Manual, Pub. 100-04, ch. 1 §120 "Detection of Duplicate Claims":
 * https://www.cms.gov/regulations-and-guidance/guidance/manuals/downloads/clm104c01.pdf).
 * A repeat the sender declares legitimate is not flagged: FT1-28 "medically necessary duplicate
 * procedure reason" valued (HL7 v2.5 user table 0476), or a repeat modifier in FT1-26 — CPT 76 /
 * 77 (repeat procedure by the same / another physician), 91 (repeat clinical diagnostic
 * laboratory test); the list is an option.
 *
 * **Reversals.** A credit (`CD`) or a negative-quantity charge (`CG`, FT1-10 < 0, or a negative
 * FT1-11) is a reversal: its amount counts negative whatever sign the sender wrote, and it is
 * netted against its original — the charge whose FT1-2 it names in FT1-3 when FT1-3 names a
 * transaction of the same patient on the ledger (that charge only: a second credit for a charge
 * already reversed is left unmatched, never moved to another charge), else the most recent open
 * charge with the same charge key (and the same filler order number, FT1-23, when it has one).
 * A reversal that finds nothing is posted `reverses: null` (an unapplied credit) and counted.
 * So a charge and its reversal net to zero per charge key (`netByChargeKey()`), and a corrected
 * quantity sent as credit + new charge posts the new charge without a duplicate flag, because
 * the credit closed the original first (FT1s are posted in message order).
 *
 * Amounts are kept to the cent and summed in whole cents.
 */
import { toCents, type ReceivedDft, type ReceivedFt1 } from './billing-dft.reader';
import { formatNumber, markdownTable } from './report.table';

/** One posted FT1: what was sent (`ReceivedFt1`), who it is for, and how it was posted. */
export interface BillingLedgerLine extends ReceivedFt1 {
  /** Posting order, 1-based. */
  readonly seq: number;
  /** MSH-10 of the DFT it came in. */
  readonly controlId: string;
  readonly receivedAt: Date;
  readonly patientMrn: string;
  readonly assigningAuthority: string;
  /** PID-18.1. */
  readonly accountNumber: string | null;
  /** PV1-19.1. */
  readonly visitNumber: string | null;
  readonly patientClass: string | null;
  /** `<mrn>^<assigning authority>|<charge code>|<YYYYMMDD>`: what duplicates and reversals match on. */
  readonly chargeKey: string;
  /** A credit (CD) or a negative-quantity / negative-amount charge. */
  readonly reversal: boolean;
  /** The quantity as it counts: positive for a charge, negative for a reversal. */
  readonly netQuantity: number;
  /** The amount as it counts on the ledger: positive for a charge, negative for a reversal. */
  readonly amount: number;
  /** Flagged for review: same patient, charge code and day as an open charge (see above). */
  readonly duplicate: boolean;
  /** `seq` of the open charge it duplicates. */
  readonly duplicateOf: number | null;
  /** On a reversal: `seq` of the charge it nets against; null when none was found. */
  readonly reverses: number | null;
  /** On a charge: quantity and amount reversed so far, and by which lines. */
  readonly reversedQuantity: number;
  readonly reversedAmount: number;
  readonly reversedBy: readonly number[];
  /** On a charge: fully reversed (quantity or amount), so it no longer counts as open. */
  readonly fullyReversed: boolean;
}

export interface DepartmentTotals {
  /** FT1-13.1; `(none)` for lines without one. */
  readonly department: string;
  readonly lines: number;
  readonly grossCharges: number;
  readonly credits: number;
  readonly net: number;
}

export interface BillingTotals {
  readonly lines: number;
  /** Lines that are charges / reversals. */
  readonly charges: number;
  readonly reversals: number;
  /** Sum of the charges' amounts. */
  readonly grossCharges: number;
  /** Sum of the reversals' amounts, as a positive number. */
  readonly credits: number;
  /** grossCharges − credits. */
  readonly net: number;
  /** Charges flagged as duplicates, and their amount. */
  readonly duplicates: number;
  readonly duplicateAmount: number;
  /** Reversals that found no original to net against. */
  readonly unmatchedReversals: number;
  readonly byDepartment: readonly DepartmentTotals[];
}

/** What one charge key nets to: zero for a charge and its full reversal. */
export interface ChargeKeyNet {
  readonly chargeKey: string;
  readonly patientMrn: string;
  readonly assigningAuthority: string;
  readonly chargeCode: string;
  readonly dateOfService: string;
  readonly lines: number;
  /** Sum of `netQuantity`. */
  readonly quantity: number;
  /** Sum of `amount`. */
  readonly amount: number;
}

export interface BillingLedgerOptions {
  /**
   * FT1-26 modifiers that make a same-day repeat legitimate (not flagged); default 76, 77, 91.
   */
  readonly duplicateExemptModifiers?: readonly string[];
}

export const DEFAULT_DUPLICATE_EXEMPT_MODIFIERS: readonly string[] = Object.freeze([
  '76',
  '77',
  '91',
]);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Line = Mutable<Omit<BillingLedgerLine, 'reversedBy'>> & { reversedBy: number[] };

export class BillingLedger {
  private readonly posted: Line[] = [];
  private readonly exemptModifiers: ReadonlySet<string>;

  constructor(options: BillingLedgerOptions = {}) {
    this.exemptModifiers = new Set(
      (options.duplicateExemptModifiers ?? DEFAULT_DUPLICATE_EXEMPT_MODIFIERS).map((m) =>
        m.toUpperCase(),
      ),
    );
  }

  /** Posts every FT1 of a DFT, in message order; returns the lines posted. */
  post(dft: ReceivedDft, receivedAt: Date): BillingLedgerLine[] {
    return dft.transactions.map((ft1) => copy(this.postOne(dft, ft1, receivedAt)));
  }

  get size(): number {
    return this.posted.length;
  }

  /** Every line, in posting order (copies). */
  lines(): BillingLedgerLine[] {
    return this.posted.map(copy);
  }

  totals(): BillingTotals {
    const departments = new Map<string, { lines: number; gross: number; credits: number }>();
    let gross = 0;
    let credits = 0;
    let duplicateCents = 0;
    for (const line of this.posted) {
      const cents = Math.round(line.amount * 100);
      const name = line.department ?? '(none)';
      const dept = departments.get(name) ?? { lines: 0, gross: 0, credits: 0 };
      dept.lines++;
      if (cents >= 0) {
        gross += cents;
        dept.gross += cents;
      } else {
        credits -= cents;
        dept.credits -= cents;
      }
      if (line.duplicate) duplicateCents += cents;
      departments.set(name, dept);
    }
    return {
      lines: this.posted.length,
      charges: this.posted.filter((l) => !l.reversal).length,
      reversals: this.posted.filter((l) => l.reversal).length,
      grossCharges: gross / 100,
      credits: credits / 100,
      net: (gross - credits) / 100,
      duplicates: this.posted.filter((l) => l.duplicate).length,
      duplicateAmount: duplicateCents / 100,
      unmatchedReversals: this.posted.filter((l) => l.reversal && l.reverses === null).length,
      byDepartment: [...departments]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([department, d]) => ({
          department,
          lines: d.lines,
          grossCharges: d.gross / 100,
          credits: d.credits / 100,
          net: (d.gross - d.credits) / 100,
        })),
    };
  }

  /** Per charge key (patient, charge code, date of service), in order of first posting. */
  netByChargeKey(): ChargeKeyNet[] {
    const byKey = new Map<string, Mutable<ChargeKeyNet> & { cents: number }>();
    for (const line of this.posted) {
      const net = byKey.get(line.chargeKey) ?? {
        chargeKey: line.chargeKey,
        patientMrn: line.patientMrn,
        assigningAuthority: line.assigningAuthority,
        chargeCode: line.chargeCode,
        dateOfService: line.dateOfService,
        lines: 0,
        quantity: 0,
        amount: 0,
        cents: 0,
      };
      net.lines++;
      net.quantity += line.netQuantity;
      net.cents += Math.round(line.amount * 100);
      byKey.set(line.chargeKey, net);
    }
    return [...byKey.values()].map(({ cents, ...net }) => ({ ...net, amount: cents / 100 }));
  }

  private postOne(dft: ReceivedDft, ft1: ReceivedFt1, receivedAt: Date): Line {
    const { mrn, assigningAuthority } = dft.patient;
    const magnitude = Math.abs(ft1.extendedAmount ?? ft1.quantity * (ft1.unitAmount ?? 0));
    const reversal =
      ft1.transactionType === 'CD' || ft1.quantity < 0 || (ft1.extendedAmount ?? 0) < 0;
    const quantity = Math.abs(ft1.quantity);
    const line: Line = {
      ...ft1,
      seq: this.posted.length + 1,
      controlId: dft.controlId,
      receivedAt,
      patientMrn: mrn,
      assigningAuthority,
      accountNumber: dft.patient.accountNumber,
      visitNumber: dft.visit.visitNumber,
      patientClass: dft.visit.patientClass,
      chargeKey: `${mrn}^${assigningAuthority}|${ft1.chargeCode}|${ft1.dateOfService}`,
      reversal,
      netQuantity: reversal ? -quantity : quantity,
      amount: toCents(reversal ? -magnitude : magnitude),
      duplicate: false,
      duplicateOf: null,
      reverses: null,
      reversedQuantity: 0,
      reversedAmount: 0,
      reversedBy: [],
      fullyReversed: false,
    };
    if (reversal) {
      const original = this.originalOf(line);
      if (original) this.net(original, line);
    } else if (!this.exempt(ft1)) {
      const earlier = this.posted.find((l) => isOpenCharge(l) && l.chargeKey === line.chargeKey);
      if (earlier) {
        line.duplicate = true;
        line.duplicateOf = earlier.seq;
      }
    }
    this.posted.push(line);
    return line;
  }

  /** The charge a reversal nets against (see the module comment), if any. */
  private originalOf(reversal: Line): Line | undefined {
    const samePatient = (l: Line): boolean =>
      !l.reversal &&
      l.patientMrn === reversal.patientMrn &&
      l.assigningAuthority === reversal.assigningAuthority;
    if (reversal.batchId !== null) {
      const named = this.posted.filter(
        (l) => samePatient(l) && l.transactionId === reversal.batchId,
      );
      if (named.length > 0) return named.find(isOpenCharge);
    }
    const sameKey = this.posted.filter(
      (l) => samePatient(l) && isOpenCharge(l) && l.chargeKey === reversal.chargeKey,
    );
    const sameOrder =
      reversal.fillerOrderNumber === null
        ? []
        : sameKey.filter((l) => l.fillerOrderNumber === reversal.fillerOrderNumber);
    return (sameOrder.length > 0 ? sameOrder : sameKey).at(-1);
  }

  private net(original: Line, reversal: Line): void {
    const openQuantity = original.netQuantity - original.reversedQuantity;
    const openCents = Math.round((original.amount - original.reversedAmount) * 100);
    original.reversedQuantity += Math.min(-reversal.netQuantity, openQuantity);
    original.reversedAmount =
      (Math.round(original.reversedAmount * 100) +
        Math.min(-Math.round(reversal.amount * 100), openCents)) /
      100;
    original.reversedBy.push(reversal.seq);
    original.fullyReversed =
      original.reversedQuantity >= original.netQuantity ||
      (original.amount > 0 && original.reversedAmount >= original.amount);
    reversal.reverses = original.seq;
  }

  private exempt(ft1: ReceivedFt1): boolean {
    return (
      ft1.duplicateReason !== null ||
      ft1.modifiers.some((m) => this.exemptModifiers.has(m.toUpperCase()))
    );
  }
}

function isOpenCharge(line: Line): boolean {
  return !line.reversal && !line.fullyReversed && line.netQuantity > 0;
}

function copy(line: Line): BillingLedgerLine {
  return { ...line, reversedBy: [...line.reversedBy] };
}

/** `YYYYMMDD` → `YYYY-MM-DD`. */
function isoDay(day: string): string {
  return `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`;
}

/** What a line's review column says: duplicate, reversal and what it nets against. */
export function ledgerLineNote(line: BillingLedgerLine): string {
  const notes: string[] = [];
  if (line.duplicate) notes.push(`DUPLICATE of #${line.duplicateOf ?? '?'}`);
  if (line.reversal) {
    notes.push(line.reverses === null ? 'unmatched reversal' : `reverses #${line.reverses}`);
  }
  if (line.reversedBy.length > 0) {
    notes.push(
      `${line.fullyReversed ? 'reversed' : 'part reversed'} by ${line.reversedBy.map((s) => `#${s}`).join(', ')}`,
    );
  }
  return notes.join('; ');
}

/** The ledger as a Markdown table, one row per line (account, not MRN: it is a ledger). */
export function billingLedgerTable(lines: readonly BillingLedgerLine[]): string {
  return markdownTable(
    [
      '#',
      'control id',
      'txn',
      'type',
      'service date',
      'account',
      'charge code',
      'CPT/HCPCS',
      'NDC',
      'qty',
      'amount',
      'dept',
      'filler order',
      'review',
    ],
    lines.map((l) => [
      String(l.seq),
      l.controlId,
      l.transactionId,
      l.transactionType,
      isoDay(l.dateOfService),
      l.accountNumber ?? '',
      l.chargeCode,
      [l.procedureCode ?? '', ...l.modifiers].filter(Boolean).join(' '),
      l.ndc ?? '',
      formatNumber(l.netQuantity, Number.isInteger(l.netQuantity) ? 0 : 2),
      formatNumber(l.amount, 2),
      l.department ?? '',
      l.fillerOrderNumber ?? '',
      ledgerLineNote(l),
    ]),
    [0, 9, 10],
  );
}

/** Totals per department and for the whole ledger, then one sentence on duplicates. */
export function billingTotalsTable(totals: BillingTotals): string {
  const rows = totals.byDepartment.map((d) => [
    d.department,
    formatNumber(d.lines),
    formatNumber(d.grossCharges, 2),
    formatNumber(d.credits, 2),
    formatNumber(d.net, 2),
  ]);
  rows.push([
    'all',
    formatNumber(totals.lines),
    formatNumber(totals.grossCharges, 2),
    formatNumber(totals.credits, 2),
    formatNumber(totals.net, 2),
  ]);
  return [
    markdownTable(['department', 'lines', 'charges', 'credits', 'net'], rows, [1, 2, 3, 4]),
    '',
    `${formatNumber(totals.charges)} charge(s), ${formatNumber(totals.reversals)} reversal(s); ` +
      `net ${formatNumber(totals.net, 2)}. ` +
      `${formatNumber(totals.duplicates)} duplicate(s) flagged for review (${formatNumber(totals.duplicateAmount, 2)}); ` +
      `${formatNumber(totals.unmatchedReversals)} unmatched reversal(s).`,
  ].join('\n');
}
