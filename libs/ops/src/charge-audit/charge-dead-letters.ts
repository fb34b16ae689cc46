/**
 * The billing dead letters the missed-charge audit knows of, looked up by what the chart
 * knows of a piece of work: the placer order number, the filler order number, the dispense id,
 * and for a ChargeItem the charge event id and charge key. Two sources (ADR 0004):
 *   - `billing.charges.v1.dlt`: ChargeEvents the billing engine refused (AR/CE, the ERR text in
 *     x-dlt-error-message) or that could not be sent;
 *   - the completion topics' dead-letter topics, only the records billing-trigger put there
 *     (x-dlt-service): completions it could not price ("no charge defined for …").
 * Pure: the records are read and decoded before (see charge-audit.ts).
 */
import type { DeadLetterRecord } from '../dead-letter.record';

export type ChargeDeadLetterKind = 'completion' | 'charge';

export interface ChargeDeadLetter {
  kind: ChargeDeadLetterKind;
  topic: string;
  partition: number;
  offset: string;
  /** When it was dead-lettered (record timestamp). */
  timestamp: Date;
  /** x-dlt-service: who dead-lettered it. */
  service?: string;
  errorCode?: string;
  errorMessage?: string;
  placerOrderNumber?: string;
  fillerOrderNumber?: string;
  dispenseId?: string;
  /** Charge dead letters: the ChargeEvent's id, key and action. */
  chargeEventId?: string;
  chargeKey?: string;
  action?: string;
  /** The value did not decode: only the headers are known, it matches nothing. */
  undecodable?: boolean;
}

/** What a decoded dead-lettered value says about its work (fields absent when unknown). */
export interface DeadLetterSubject {
  placerOrderNumber?: string | null;
  fillerOrderNumber?: string | null;
  dispenseId?: string | null;
  chargeEventId?: string;
  chargeKey?: string;
  action?: string;
}

function present(value: string | null | undefined): value is string {
  return value !== undefined && value !== null && value.trim() !== '';
}

export function chargeDeadLetterOf(
  kind: ChargeDeadLetterKind,
  record: DeadLetterRecord,
  subject: DeadLetterSubject | undefined,
): ChargeDeadLetter {
  const entry: ChargeDeadLetter = {
    kind,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    ...(record.service !== undefined ? { service: record.service } : {}),
    ...(record.errorCode !== undefined ? { errorCode: record.errorCode } : {}),
    ...(record.errorMessage !== undefined ? { errorMessage: record.errorMessage } : {}),
  };
  if (!subject) return { ...entry, undecodable: true };
  if (present(subject.placerOrderNumber)) entry.placerOrderNumber = subject.placerOrderNumber;
  if (present(subject.fillerOrderNumber)) entry.fillerOrderNumber = subject.fillerOrderNumber;
  if (present(subject.dispenseId)) entry.dispenseId = subject.dispenseId;
  if (present(subject.chargeEventId)) entry.chargeEventId = subject.chargeEventId;
  if (present(subject.chargeKey)) entry.chargeKey = subject.chargeKey;
  if (present(subject.action)) entry.action = subject.action;
  return entry;
}

function push(map: Map<string, ChargeDeadLetter[]>, key: string, entry: ChargeDeadLetter): void {
  const list = map.get(key);
  if (list) list.push(entry);
  else map.set(key, [entry]);
}

function byTime(a: ChargeDeadLetter, b: ChargeDeadLetter): number {
  return a.timestamp.getTime() - b.timestamp.getTime();
}

/** `<topic>/<partition>/<offset>` of a dead letter. */
export function deadLetterAddress(entry: ChargeDeadLetter): string {
  return `${entry.topic}/${entry.partition}/${entry.offset}`;
}

/** The reason as an operator reads it: `<code>: <message>` (the service when not billing's own). */
export function deadLetterReason(entry: ChargeDeadLetter): string {
  const message = entry.errorMessage ?? '(no error message)';
  const code = entry.errorCode !== undefined ? `${entry.errorCode}: ` : '';
  return `${code}${message}`;
}

export class ChargeDeadLetterIndex {
  private readonly byPlacer = new Map<string, ChargeDeadLetter[]>();
  private readonly byFiller = new Map<string, ChargeDeadLetter[]>();
  private readonly byDispense = new Map<string, ChargeDeadLetter[]>();
  private readonly byChargeEvent = new Map<string, ChargeDeadLetter[]>();
  private readonly all: ChargeDeadLetter[] = [];

  get size(): number {
    return this.all.length;
  }

  /** Dead letters whose value did not decode (counted, matched to nothing). */
  get undecodable(): number {
    return this.all.filter((e) => e.undecodable).length;
  }

  add(entry: ChargeDeadLetter): void {
    this.all.push(entry);
    if (entry.undecodable) return;
    // A CREDIT that failed is about the reversal, not about the work's missing charge.
    const credit = entry.action === 'CREDIT';
    if (entry.chargeEventId !== undefined) push(this.byChargeEvent, entry.chargeEventId, entry);
    if (credit) return;
    if (entry.placerOrderNumber !== undefined && entry.dispenseId === undefined) {
      const dispenseKey = entry.chargeKey?.startsWith('dispense:') ?? false;
      if (!dispenseKey) push(this.byPlacer, entry.placerOrderNumber, entry);
    }
    const dispenseId =
      entry.dispenseId ??
      (entry.chargeKey?.startsWith('dispense:')
        ? entry.chargeKey.slice('dispense:'.length)
        : undefined);
    if (dispenseId !== undefined && dispenseId !== '') push(this.byDispense, dispenseId, entry);
    else if (entry.fillerOrderNumber !== undefined) {
      push(this.byFiller, entry.fillerOrderNumber, entry);
    }
  }

  /** Dead letters of an order: by placer number, else (no placer) by filler numbers. Oldest first. */
  forOrder(placerOrderNumber: string | undefined, fillerOrderNumbers: readonly string[]) {
    const found =
      placerOrderNumber !== undefined
        ? (this.byPlacer.get(placerOrderNumber) ?? [])
        : fillerOrderNumbers.flatMap((f) => this.byFiller.get(f) ?? []);
    return [...new Set(found)].sort(byTime);
  }

  forDispense(dispenseId: string | undefined): ChargeDeadLetter[] {
    return dispenseId !== undefined
      ? [...(this.byDispense.get(dispenseId) ?? [])].sort(byTime)
      : [];
  }

  forChargeEvent(chargeEventId: string | undefined): ChargeDeadLetter[] {
    return chargeEventId !== undefined
      ? [...(this.byChargeEvent.get(chargeEventId) ?? [])].sort(byTime)
      : [];
  }

  /** Every dead letter read, oldest first. */
  entries(): ChargeDeadLetter[] {
    return [...this.all].sort(byTime);
  }
}
