/**
 * The charge decision: exactly one charge per billable unit (ADR 0004, item 3), as a pure state
 * machine over the caller's ChargeRecord (one row per charge key in `billing.*`).
 *
 * | previous record               | event                                   | lines                           | record after          |
 * | ----------------------------- | --------------------------------------- | ------------------------------- | --------------------- |
 * | none                          | billable work                           | CHARGE                          | open charge           |
 * | open charge, same quantity    | work again (replay, resend, correction) | none                            | unchanged             |
 * | open charge, other quantity   | corrected work                          | CREDIT of the open one, CHARGE  | new open charge       |
 * | open charge                   | work whose quantity is now 0            | CREDIT                          | nothing open          |
 * | nothing open (not reversed)   | work with quantity > 0                  | CHARGE                          | open charge           |
 * | open charge                   | order cancelled / dispense returned     | CREDIT                          | reversed (terminal)   |
 * | none / nothing open           | order cancelled / dispense returned     | none                            | reversed (terminal)   |
 * | reversed                      | anything                                | none                            | unchanged             |
 *
 * Reversed is terminal for its key: the completion topic replayed from the start after a
 * cancellation, or a dead-lettered completion replayed after its dispense was returned, must not
 * charge again. New work after a cancellation comes with a new filler order (or dispense) number,
 * hence a new key.
 *
 * Ids: line n of a key has eventId chargeEventId(key, n) and FT1-2 transactionIdFor(eventId).
 *
 * Quantity and amounts of every line are positive (ChargeEvent doc); how a CREDIT is sent
 * (FT1-6 CD, or CG with negative quantity) is the DFT sender's per-receiver choice.
 */
import { transactionIdFor } from '@ancillary/billing-dft';
import type { ChargeEvent } from '@ancillary/contracts';
import {
  extendedPriceCents,
  serviceDay,
  type ChargeMaster,
  type ChargeMasterEntry,
} from '@ancillary/charge-master';
import { UnbillableWorkError, dispenseChargeKey, type BillableWork } from './billable-work';
import { chargeEventId } from './charge-ids';
import type { OrderContext } from './order-context';

/** Why a charge key was reversed. */
export type ReversalReason =
  'order-cancelled' | 'dispense-cancelled' | 'dispense-entered-in-error' | (string & {});

/** billing-trigger's state for one charge key. */
export interface ChargeRecord {
  readonly chargeKey: string;
  /** Lines issued for the key so far; the next line is `sequence + 1` (ids derive from it). */
  readonly sequence: number;
  /** The CHARGE line currently standing (not credited); null when none is. */
  readonly openCharge: ChargeEvent | null;
  /** Reversed (cancelled order, returned dispense): nothing more is charged on this key. */
  readonly reversed: boolean;
  readonly reversalReason: string | null;
}

export interface ChargeDecision {
  /** In the order to publish them: a CREDIT always before the CHARGE that replaces it. */
  readonly lines: ChargeEvent[];
  /** The record to store with the lines (same transaction, or idempotently after them). */
  readonly record: ChargeRecord;
}

export interface DecideOptions {
  /** Where the day of service is read (the hospital's zone), e.g. America/New_York. */
  readonly timeZone: string;
  /** createdAt of the lines. */
  readonly now: Date;
}

/** Work priced: the charge-master row, the key, the billing quantity. */
export interface PricedWork {
  readonly entry: ChargeMasterEntry;
  readonly chargeKey: string;
  /** YYYY-MM-DD in the time zone. */
  readonly serviceDay: string;
  /** Billing units: the work's quantity times the row's multiplier. */
  readonly quantity: number;
  readonly chargeMasterVersion: string;
}

/**
 * Prices work on its day of service and names its charge key: `<filler>|<charge code>|<day>`,
 * or `dispense:<dispense id>`. The caller uses the key to load the previous record.
 * @throws NoChargeDefinedError (permanent) when no row prices any trigger
 */
export function priceWork(work: BillableWork, cdm: ChargeMaster, timeZone: string): PricedWork {
  const entry = cdm.chargeForAny(work.triggers, new Date(work.dateOfService), timeZone);
  const day = serviceDay(new Date(work.dateOfService), timeZone);
  let chargeKey: string;
  if (work.kind === 'PHARMACY') {
    if (!work.dispenseId) throw new UnbillableWorkError(work.sourceEventId, 'no dispense id');
    chargeKey = dispenseChargeKey(work.dispenseId);
  } else {
    if (!work.fillerOrderNumber) {
      throw new UnbillableWorkError(work.sourceEventId, 'no filler order number');
    }
    chargeKey = `${work.fillerOrderNumber}|${entry.chargeCode}|${day}`;
  }
  // Six decimals: 2.5 mL × 4 must compare equal to 10 on a resend, whatever the float noise.
  const quantity = Math.round(work.quantity * entry.quantityMultiplier * 1e6) / 1e6;
  return { entry, chargeKey, serviceDay: day, quantity, chargeMasterVersion: cdm.version };
}

/** The charge key of `work` (prices it). @throws NoChargeDefinedError */
export function chargeKeyFor(work: BillableWork, cdm: ChargeMaster, timeZone: string): string {
  return priceWork(work, cdm, timeZone).chargeKey;
}

/**
 * The lines completed work produces, given the key's previous record and the order's context.
 * Pure: the same inputs give the same lines with the same ids.
 * @throws NoChargeDefinedError (permanent) when nothing in the charge master prices the work
 */
export function decideCharges(
  previous: ChargeRecord | undefined,
  work: BillableWork,
  context: OrderContext | undefined,
  cdm: ChargeMaster,
  options: DecideOptions,
): ChargeDecision {
  const priced = priceWork(work, cdm, options.timeZone);
  if (previous && previous.chargeKey !== priced.chargeKey) {
    throw new RangeError(
      `record of ${previous.chargeKey} given for work keyed ${priced.chargeKey}`,
    );
  }
  if (
    context &&
    work.placerOrderNumber !== null &&
    context.placerOrderNumber !== work.placerOrderNumber
  ) {
    throw new RangeError(
      `order context of ${context.placerOrderNumber} given for work of order ${work.placerOrderNumber}`,
    );
  }
  const record: ChargeRecord = previous ?? {
    chargeKey: priced.chargeKey,
    sequence: 0,
    openCharge: null,
    reversed: false,
    reversalReason: null,
  };
  if (record.reversed) return { lines: [], record };
  if (context?.cancelled) {
    // The order was cancelled: the result arriving anyway is not charged, and an open charge
    // is credited — the same end state whichever of cancel and completion is seen first.
    return reverse(record, 'order-cancelled', options.now, [
      work.sourceEventId,
      ...context.sourceEventIds,
    ]);
  }

  const open = record.openCharge;
  if (open && sameQuantity(open.quantity, priced.quantity)) return { lines: [], record };

  const lines: ChargeEvent[] = [];
  let sequence = record.sequence;
  if (open) {
    sequence += 1;
    lines.push(creditOf(open, sequence, options.now, [work.sourceEventId]));
  }
  let openCharge: ChargeEvent | null = null;
  if (priced.quantity > 0) {
    sequence += 1;
    openCharge = chargeLine(work, context, priced, sequence, options.now);
    lines.push(openCharge);
  }
  return { lines, record: { ...record, sequence, openCharge } };
}

/**
 * The reversal of a charge key: one CREDIT of the open charge (reversesTransactionId set), or
 * nothing when nothing is open or the key is already reversed. Marks the key reversed either
 * way. With no previous record, a `chargeKey` gives a reversed record (so a completion replayed
 * later is not charged); without one there is nothing to record.
 */
export function decideReversal(
  previous: ChargeRecord | undefined,
  reason: ReversalReason,
  options: { now: Date; chargeKey?: string; sourceEventIds?: readonly string[] },
): { lines: ChargeEvent[]; record: ChargeRecord | undefined } {
  if (previous) return reverse(previous, reason, options.now, options.sourceEventIds ?? []);
  if (options.chargeKey === undefined) return { lines: [], record: undefined };
  return {
    lines: [],
    record: {
      chargeKey: options.chargeKey,
      sequence: 0,
      openCharge: null,
      reversed: true,
      reversalReason: reason,
    },
  };
}

function reverse(
  previous: ChargeRecord,
  reason: ReversalReason,
  now: Date,
  sourceEventIds: readonly string[],
): ChargeDecision {
  if (previous.reversed) return { lines: [], record: previous };
  const reversed = { ...previous, openCharge: null, reversed: true, reversalReason: reason };
  const open = previous.openCharge;
  if (!open) return { lines: [], record: reversed };
  const sequence = previous.sequence + 1;
  return {
    lines: [creditOf(open, sequence, now, sourceEventIds)],
    record: { ...reversed, sequence },
  };
}

function sameQuantity(a: number, b: number): boolean {
  return Math.abs(a - b) < 1e-6;
}

/** A CREDIT mirrors the charge it reverses (same code, quantity, amounts), with its own ids. */
function creditOf(
  charge: ChargeEvent,
  sequence: number,
  now: Date,
  sourceEventIds: readonly string[],
): ChargeEvent {
  return {
    ...charge,
    eventId: chargeEventId(charge.chargeKey, sequence),
    action: 'CREDIT',
    transactionId: transactionIdFor(chargeEventId(charge.chargeKey, sequence)),
    reversesTransactionId: charge.transactionId,
    reversesEventId: charge.eventId,
    sourceEventIds: unique([...sourceEventIds, ...charge.sourceEventIds]),
    createdAt: now.getTime(),
  };
}

function chargeLine(
  work: BillableWork,
  context: OrderContext | undefined,
  priced: PricedWork,
  sequence: number,
  now: Date,
): ChargeEvent {
  const { entry } = priced;
  const eventId = chargeEventId(priced.chargeKey, sequence);
  return {
    eventId,
    chargeKey: priced.chargeKey,
    action: 'CHARGE',
    transactionId: transactionIdFor(eventId),
    reversesTransactionId: null,
    reversesEventId: null,
    sourceKind: work.kind,
    patient: work.patient,
    accountNumber: work.accountNumber,
    visitNumber: work.visitNumber,
    patientClass: work.patientClass,
    placerOrderNumber: work.placerOrderNumber,
    fillerOrderNumber: work.fillerOrderNumber ?? context?.fillerOrderNumber ?? null,
    dateOfService: work.dateOfService,
    chargeCode: entry.chargeCode,
    description: entry.description,
    cptHcpcs: entry.cptHcpcs,
    modifiers: [...entry.modifiers],
    revenueCode: entry.revenueCode,
    department: entry.department,
    quantity: priced.quantity,
    unitPriceCents: entry.unitPriceCents,
    extendedPriceCents: extendedPriceCents(entry.unitPriceCents, priced.quantity),
    orderingProvider: context?.orderingProvider ?? work.orderingProvider,
    performingProvider: work.performingProvider,
    diagnoses: (context?.diagnoses ?? []).map((d) => ({ code: d.code, display: d.display })),
    ndc: work.ndc,
    sourceEventIds: unique([work.sourceEventId, ...(context?.sourceEventIds ?? [])]),
    chargeMasterVersion: priced.chargeMasterVersion,
    createdAt: now.getTime(),
  };
}

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}
