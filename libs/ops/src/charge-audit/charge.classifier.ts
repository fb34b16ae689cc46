/**
 * The missed-charge audit's judgement, from what the chart and the dead-letter topics hold.
 * Pure: the I/O happens before (ChargeChart, ChargeDeadLetterIndex).
 *
 * Completed work (a completed ServiceRequest or MedicationDispense) is, judged by its charges
 * that still stand (billable, billed, aborted) — the worst one decides:
 *   OK               every standing charge is billed (sent, accepted by the billing engine);
 *   PENDING          a charge is billable (decided, not yet answered) for less than the grace;
 *   PENDING_OVERDUE  billable for longer than the grace: the sender is stuck or the answer lost;
 *   DEAD_LETTERED    rejected (aborted) and in billing.charges.v1.dlt, or no charge at all and
 *                    a billing dead letter for the work (e.g. "no charge defined for …"): the
 *                    revenue is not captured and someone must act, the reason says why;
 *   REVERSED         its only charges were reversed (entered-in-error) yet the work is still
 *                    completed: a credit without a cancellation;
 *   MISSING          no charge and no dead letter (or rejected with no dead letter to show).
 * Every standing charge dated in the window must point to completed work, else
 *   CHARGE_WITHOUT_WORK  (a cancelled order or returned dispense whose charge was not reversed,
 *                        or no such order/dispense in the chart at all).
 */
import {
  dispenseIdOfKey,
  fillerOfKey,
  isLiveCharge,
  workLabel,
  workReference,
  type ChargeRecord,
  type WorkRecord,
} from './charge-records';
import {
  deadLetterAddress,
  deadLetterReason,
  type ChargeDeadLetter,
  type ChargeDeadLetterIndex,
} from './charge-dead-letters';

export const CHARGE_AUDIT_CATEGORIES = [
  'OK',
  'PENDING',
  'PENDING_OVERDUE',
  'DEAD_LETTERED',
  'REVERSED',
  'MISSING',
  'CHARGE_WITHOUT_WORK',
] as const;

export type ChargeAuditCategory = (typeof CHARGE_AUDIT_CATEGORIES)[number];

/** The categories that are discrepancies (exit status 1). */
export const DISCREPANCY_CATEGORIES: ReadonlySet<ChargeAuditCategory> = new Set([
  'PENDING_OVERDUE',
  'DEAD_LETTERED',
  'REVERSED',
  'MISSING',
  'CHARGE_WITHOUT_WORK',
]);

/** Worst first: the category of work with several charges is the worst of theirs. */
const SEVERITY: readonly ChargeAuditCategory[] = [
  'MISSING',
  'DEAD_LETTERED',
  'REVERSED',
  'PENDING_OVERDUE',
  'PENDING',
  'OK',
];

export interface AuditedWork {
  category: ChargeAuditCategory;
  work: WorkRecord;
  /** Every ChargeItem found for it, reversed ones included. */
  charges: ChargeRecord[];
  /** The billing dead letters that concern it, oldest first. */
  deadLetters: ChargeDeadLetter[];
  /** What is wrong (or pending), in words; the dead letter's reason for DEAD_LETTERED. */
  detail: string;
}

export interface AuditedCharge {
  category: 'CHARGE_WITHOUT_WORK';
  charge: ChargeRecord;
  /** The work it names, when the chart has it (not completed). */
  work?: WorkRecord;
  detail: string;
}

/** The ChargeItems of the chart, looked up by what completed work is known by. */
export class ChargeIndex {
  private readonly byPlacer = new Map<string, ChargeRecord[]>();
  private readonly byFiller = new Map<string, ChargeRecord[]>();
  private readonly byDispense = new Map<string, ChargeRecord[]>();
  private readonly byId = new Map<string, ChargeRecord>();

  constructor(charges: Iterable<ChargeRecord> = []) {
    for (const charge of charges) this.add(charge);
  }

  add(charge: ChargeRecord): void {
    if (this.byId.has(charge.id)) return;
    this.byId.set(charge.id, charge);
    const dispenseId = dispenseIdOfKey(charge.chargeKey);
    if (dispenseId !== undefined) {
      push(this.byDispense, dispenseId, charge);
      return;
    }
    for (const placer of charge.placerOrderNumbers) push(this.byPlacer, placer, charge);
    const filler = fillerOfKey(charge.chargeKey);
    if (filler !== undefined) push(this.byFiller, filler, charge);
  }

  get size(): number {
    return this.byId.size;
  }

  all(): ChargeRecord[] {
    return [...this.byId.values()];
  }

  /** An order's charges: by placer number; without one, by the filler number of the key. */
  forWork(work: WorkRecord): ChargeRecord[] {
    if (work.resourceType === 'MedicationDispense') {
      return work.dispenseId !== undefined ? [...(this.byDispense.get(work.dispenseId) ?? [])] : [];
    }
    const found =
      work.placerOrderNumber !== undefined
        ? (this.byPlacer.get(work.placerOrderNumber) ?? [])
        : work.fillerOrderNumbers.flatMap((f) => this.byFiller.get(f) ?? []);
    return [...new Set(found)];
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export interface ClassifyOptions {
  /** The audit's "now" (the age of a billable charge is measured to it). */
  now: Date;
  /** How long a charge may stay billable before it is overdue, ms. */
  pendingGraceMs: number;
}

interface ChargeVerdict {
  category: ChargeAuditCategory;
  detail: string;
  deadLetters: ChargeDeadLetter[];
}

/** `1h 05m`, `12m 30s`, `45s`. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

function chargeName(charge: ChargeRecord): string {
  return charge.chargeCode !== undefined
    ? `ChargeItem/${charge.id} (${charge.chargeCode})`
    : `ChargeItem/${charge.id}`;
}

function describeDeadLetter(entry: ChargeDeadLetter): string {
  return `${deadLetterAddress(entry)}: ${deadLetterReason(entry)}`;
}

function judgeCharge(
  charge: ChargeRecord,
  deadLetters: ChargeDeadLetterIndex,
  options: ClassifyOptions,
): ChargeVerdict {
  switch (charge.status) {
    case 'billed':
      return { category: 'OK', detail: `${chargeName(charge)} billed`, deadLetters: [] };
    case 'aborted': {
      const found = deadLetters.forChargeEvent(charge.chargeEventId);
      const latest = found.at(-1);
      return latest
        ? { category: 'DEAD_LETTERED', detail: describeDeadLetter(latest), deadLetters: found }
        : {
            category: 'MISSING',
            detail:
              `${chargeName(charge)} aborted (rejected by the billing engine) but charge event ` +
              `${charge.chargeEventId ?? '(unknown)'} is in no dead-letter topic`,
            deadLetters: [],
          };
    }
    default: {
      // billable, or a status this audit does not know: decided, not (yet) accepted.
      const since = charge.enteredDate ?? charge.lastUpdated;
      const age = options.now.getTime() - since.getTime();
      const overdue = age >= options.pendingGraceMs;
      return {
        category: overdue ? 'PENDING_OVERDUE' : 'PENDING',
        detail: `${chargeName(charge)} ${charge.status} for ${formatAge(age)}${overdue ? ', not billed within the grace period' : ''}`,
        deadLetters: [],
      };
    }
  }
}

function workDeadLetters(work: WorkRecord, deadLetters: ChargeDeadLetterIndex) {
  return work.resourceType === 'MedicationDispense'
    ? deadLetters.forDispense(work.dispenseId)
    : deadLetters.forOrder(work.placerOrderNumber, work.fillerOrderNumbers);
}

/** The judgement of one piece of completed work. */
export function classifyWork(
  work: WorkRecord,
  charges: ChargeIndex,
  deadLetters: ChargeDeadLetterIndex,
  options: ClassifyOptions,
): AuditedWork {
  const all = charges.forWork(work);
  const live = all.filter(isLiveCharge);
  const verdict = (
    category: ChargeAuditCategory,
    detail: string,
    found: ChargeDeadLetter[] = [],
  ): AuditedWork => ({ category, work, charges: all, deadLetters: found, detail });

  if (live.length === 0) {
    const found = workDeadLetters(work, deadLetters);
    const latest = found.at(-1);
    if (latest) return verdict('DEAD_LETTERED', describeDeadLetter(latest), found);
    if (all.length > 0) {
      return verdict(
        'REVERSED',
        `${all.map(chargeName).join(', ')} entered-in-error (reversed) but ` +
          `${workReference(work)} is still ${work.status}`,
      );
    }
    return verdict('MISSING', `no ChargeItem for ${workLabel(work)} and no billing dead letter`);
  }

  const verdicts = live.map((c) => judgeCharge(c, deadLetters, options));
  const worst = SEVERITY.find((s) => verdicts.some((v) => v.category === s)) ?? 'OK';
  const chosen = verdicts.filter((v) => v.category === worst);
  return verdict(
    worst,
    chosen.map((v) => v.detail).join('; '),
    chosen.flatMap((v) => v.deadLetters),
  );
}

/** Where a charge's work is to be found: a dispense id, or the order numbers. */
export interface ChargeWorkRef {
  dispenseId?: string;
  placerOrderNumbers: string[];
  fillerOrderNumber?: string;
}

export function workRefOf(charge: ChargeRecord): ChargeWorkRef {
  const dispenseId = dispenseIdOfKey(charge.chargeKey);
  if (dispenseId !== undefined) return { dispenseId, placerOrderNumbers: [] };
  const filler = fillerOfKey(charge.chargeKey);
  return {
    placerOrderNumbers: charge.placerOrderNumbers,
    ...(filler !== undefined ? { fillerOrderNumber: filler } : {}),
  };
}

/** The chart's work, looked up by the numbers a charge names. */
export interface WorkLookup {
  byPlacer(placerOrderNumber: string): WorkRecord[];
  byFiller(fillerOrderNumber: string): WorkRecord[];
  byDispenseId(dispenseId: string): WorkRecord[];
}

/**
 * Does a standing charge point to completed work? Undefined when it does (or when the charge
 * is reversed or rejected: those are not revenue), else the CHARGE_WITHOUT_WORK finding.
 */
export function classifyCharge(
  charge: ChargeRecord,
  lookup: WorkLookup,
): AuditedCharge | undefined {
  if (charge.status !== 'billable' && charge.status !== 'billed') return undefined;
  const ref = workRefOf(charge);
  let candidates: WorkRecord[];
  let named: string;
  if (ref.dispenseId !== undefined) {
    candidates = lookup.byDispenseId(ref.dispenseId);
    named = `MedicationDispense with identifier ${ref.dispenseId}`;
  } else if (ref.placerOrderNumbers.length > 0) {
    candidates = ref.placerOrderNumbers.flatMap((p) => lookup.byPlacer(p));
    named = `ServiceRequest with placer number ${ref.placerOrderNumbers.join(', ')}`;
  } else if (ref.fillerOrderNumber !== undefined) {
    candidates = lookup.byFiller(ref.fillerOrderNumber);
    named = `ServiceRequest with filler number ${ref.fillerOrderNumber}`;
  } else {
    return {
      category: 'CHARGE_WITHOUT_WORK',
      charge,
      detail: `${chargeName(charge)} ${charge.status} names no order and no dispense (charge key ${charge.chargeKey ?? 'absent'})`,
    };
  }
  if (candidates.some((w) => w.status === 'completed')) return undefined;
  const work = candidates[0];
  if (!work) {
    return {
      category: 'CHARGE_WITHOUT_WORK',
      charge,
      detail: `${chargeName(charge)} ${charge.status}: no ${named} in the chart`,
    };
  }
  return {
    category: 'CHARGE_WITHOUT_WORK',
    charge,
    work,
    detail: `${chargeName(charge)} ${charge.status} but ${workReference(work)} is ${work.status} (not reversed)`,
  };
}
