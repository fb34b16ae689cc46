/**
 * The order book every simulated ancillary keeps: each order message that arrived (what it
 * was, what it was answered), each order taken with its filler number and what became of it,
 * and when its result went back — the timing records a demo summarises. Tests wait on it
 * (`waitForOrders(n)`, `waitForResults(n)`) instead of sleeping: every change wakes the waiters.
 */
import type { SeededRandom } from './seeded-random';

/** Which ancillary a simulator plays. */
export type SimAncillaryKind = 'lis' | 'ris' | 'pharmacy';

/**
 * What became of an order the ancillary took: `accepted` (result pending), `resulting` (the
 * result is being sent), `resulted` (the gateway acknowledged it), `result-failed` (the
 * gateway refused it or the attempts ran out), `cancelled` (ORC-1 CA before its result).
 * `rejected`: the order was refused (AR / 422) and never taken.
 */
export type SimOrderStatus =
  'accepted' | 'rejected' | 'cancelled' | 'resulting' | 'resulted' | 'result-failed';

/** One order, by placer number. */
export interface SimOrderRecord {
  readonly ancillary: SimAncillaryKind;
  readonly placerOrderNumber: string;
  /** ORC-3 / the filler identifier the ancillary assigned; null when rejected. */
  readonly fillerOrderNumber: string | null;
  /** The ordered code as received (OBR-4.1, RXO-1.1, the RxNorm code of a FHIR order). */
  readonly code: string;
  /** HL7 table 0027 priority (S, A, R); FHIR priorities as S (stat), A (asap, urgent), R. */
  readonly priority: string;
  readonly stat: boolean;
  readonly patientMrn: string | null;
  /** MSH-10 of the message that placed it (for FHIR: the placer identifier). */
  readonly controlId: string;
  readonly status: SimOrderStatus;
  /** When the order message arrived. */
  readonly receivedAt: Date;
  readonly acceptedAt?: Date;
  readonly cancelledAt?: Date;
  readonly rejectReason?: string;
  /** When the result is due (delay drawn at acceptance). */
  readonly resultDueAt?: Date;
  /** When the result (ORU, RDS, MedicationDispense) was handed to the sender. */
  readonly resultSentAt?: Date;
  /** When the gateway acknowledged it (AA / 2xx). */
  readonly resultAcknowledgedAt?: Date;
  /** MSH-10 of the result message, or the dispense identifier (FHIR). */
  readonly resultId?: string;
  readonly resultAttempts?: number;
  readonly resultError?: string;
  /** When an unsolicited status update (ORC-5 IP) was acknowledged. */
  readonly statusSentAt?: Date;
}

/** One arrival of an order message (resends included). */
export interface ReceivedOrderRecord {
  readonly ancillary: SimAncillaryKind;
  /** MSH-10 (FHIR: the request's placer identifier). */
  readonly controlId: string;
  /** `ORM^O01`, `OML^O21`, `RDE^O11`, `POST MedicationRequest`, `PUT MedicationRequest`. */
  readonly messageType: string;
  /** ORC-1 of the first order (NW, CA). */
  readonly orderControl: string;
  readonly placerOrderNumber: string;
  /** ORC-3 as sent (a cancel of an accepted order carries it). */
  readonly fillerOrderNumber: string | null;
  readonly code: string;
  readonly priority: string;
  readonly stat: boolean;
  readonly patientMrn: string | null;
  readonly receivedAt: Date;
  /** Answered from the de-duplication cache (same MSH-10 as a message already answered). */
  readonly duplicate: boolean;
  /** Arrival number the script saw; null for duplicates, which do not reach it. */
  readonly scriptIndex: number | null;
  /** The scripted behaviour, as the script writes it (`accept`, `reject:…`, `drop`…). */
  readonly action: string;
  /** What was answered: AA, AR, AE, CE (HL7), `HTTP 201` …; null while pending or never. */
  readonly answer: string | null;
}

/** Per order, for the demo's summary. */
export interface OrderTiming {
  readonly ancillary: SimAncillaryKind;
  readonly placerOrderNumber: string;
  readonly fillerOrderNumber: string | null;
  readonly code: string;
  readonly stat: boolean;
  readonly status: SimOrderStatus;
  readonly receivedAt: Date;
  readonly resultSentAt?: Date;
  readonly resultAcknowledgedAt?: Date;
}

/** What a simulator reports as it works (the CLI prints one line per event). */
export type AncillaryEvent =
  | { readonly type: 'listening'; readonly ancillary: SimAncillaryKind; readonly port: number }
  | { readonly type: 'down'; readonly ancillary: SimAncillaryKind; readonly port: number }
  | {
      readonly type: 'received';
      readonly ancillary: SimAncillaryKind;
      readonly message: ReceivedOrderRecord;
    }
  | {
      readonly type: 'answered';
      readonly ancillary: SimAncillaryKind;
      readonly controlId: string;
      readonly placerOrderNumber: string;
      /** AA, AR, … or `HTTP 201`; `dropped` (hung up), `silent` (never answered). */
      readonly answer: string;
      readonly fillerOrderNumber: string | null;
    }
  | {
      readonly type: 'status-sent';
      readonly ancillary: SimAncillaryKind;
      readonly order: SimOrderRecord;
      readonly status: string;
    }
  | {
      readonly type: 'result-sent';
      readonly ancillary: SimAncillaryKind;
      readonly order: SimOrderRecord;
    }
  | {
      readonly type: 'result-failed';
      readonly ancillary: SimAncillaryKind;
      readonly order: SimOrderRecord;
      readonly error: string;
    }
  | {
      readonly type: 'result-skipped';
      readonly ancillary: SimAncillaryKind;
      readonly order: SimOrderRecord;
      readonly reason: string;
    };

/** A delay drawn uniformly from [minMs, maxMs]. */
export interface DelayRange {
  readonly minMs: number;
  readonly maxMs: number;
}

export interface SimWaitOptions {
  /** Default 30 s. */
  readonly timeoutMs?: number;
}

/** `2000` (fixed) or `1000-3000` (ms), as the CLI takes it. */
export function parseDelayRange(text: string): DelayRange {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)\s*)?$/.exec(text);
  if (!match) throw new RangeError(`a delay is <ms> or <min>-<max> in ms, got "${text}"`);
  const minMs = Number(match[1]);
  const maxMs = match[2] === undefined ? minMs : Number(match[2]);
  return toDelayRange({ minMs, maxMs });
}

/** A number (fixed) or a range, checked. */
export function toDelayRange(value: DelayRange | number): DelayRange {
  const range = typeof value === 'number' ? { minMs: value, maxMs: value } : value;
  if (!(range.minMs >= 0) || !(range.maxMs >= range.minMs) || !Number.isFinite(range.maxMs)) {
    throw new RangeError(
      `delay range must satisfy 0 ≤ min ≤ max, got ${range.minMs}-${range.maxMs}`,
    );
  }
  return range;
}

export function drawDelay(range: DelayRange, random: SeededRandom): number {
  return Math.round(random.between(range.minMs, range.maxMs));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Waiter = () => void;

/**
 * Orders and arrivals of one simulator, with their waiters. `T` is what the simulator keeps
 * per order to build its result later (the received message, the FHIR request…).
 */
export class AncillaryOrderBook<T> {
  private readonly arrivals: Mutable<ReceivedOrderRecord>[] = [];
  private readonly byPlacer = new Map<string, { record: Mutable<SimOrderRecord>; source: T }>();
  private readonly waiters = new Set<Waiter>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly ancillary: SimAncillaryKind,
    private readonly emit: (event: AncillaryEvent) => void,
  ) {}

  /** Records an arrival; the answer is filled in by {@link answered}. */
  arrived(record: Omit<ReceivedOrderRecord, 'ancillary' | 'answer'>): ReceivedOrderRecord {
    const entry: Mutable<ReceivedOrderRecord> = {
      ...record,
      ancillary: this.ancillary,
      answer: null,
    };
    this.arrivals.push(entry);
    this.emit({ type: 'received', ancillary: this.ancillary, message: { ...entry } });
    this.changed();
    return entry;
  }

  answered(arrival: ReceivedOrderRecord, answer: string, fillerOrderNumber: string | null): void {
    (arrival as Mutable<ReceivedOrderRecord>).answer = answer;
    this.emit({
      type: 'answered',
      ancillary: this.ancillary,
      controlId: arrival.controlId,
      placerOrderNumber: arrival.placerOrderNumber,
      answer,
      fillerOrderNumber,
    });
    this.changed();
  }

  get(placer: string): { record: SimOrderRecord; source: T } | undefined {
    return this.byPlacer.get(placer);
  }

  /** Adds (or replaces) an order record. */
  put(record: SimOrderRecord, source: T): void {
    this.byPlacer.set(record.placerOrderNumber, { record: { ...record }, source });
    this.changed();
  }

  /** Replaces what is kept to build the order's result (a FHIR request after an update). */
  setSource(placer: string, source: T): void {
    const entry = this.byPlacer.get(placer);
    if (entry) this.byPlacer.set(placer, { record: entry.record, source });
  }

  update(placer: string, change: Partial<SimOrderRecord>): SimOrderRecord | undefined {
    const entry = this.byPlacer.get(placer);
    if (!entry) return undefined;
    Object.assign(entry.record, change);
    this.changed();
    return { ...entry.record };
  }

  /** Runs `task` after `ms`, unless the book is closed first. */
  later(ms: number, task: () => Promise<void> | void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void (async () => {
        try {
          await task();
        } catch {
          // tasks record their own failures; nothing may escape a timer
        }
      })();
    }, ms);
    this.timers.add(timer);
  }

  /** Cancels every pending timer (the simulator stops). */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  received(): ReceivedOrderRecord[] {
    return this.arrivals.map((a) => ({ ...a }));
  }

  orders(): SimOrderRecord[] {
    return [...this.byPlacer.values()].map((e) => ({ ...e.record }));
  }

  timings(): OrderTiming[] {
    return this.orders()
      .filter((o) => o.status !== 'rejected')
      .map((o) => ({
        ancillary: o.ancillary,
        placerOrderNumber: o.placerOrderNumber,
        fillerOrderNumber: o.fillerOrderNumber,
        code: o.code,
        stat: o.stat,
        status: o.status,
        receivedAt: o.receivedAt,
        ...(o.resultSentAt ? { resultSentAt: o.resultSentAt } : {}),
        ...(o.resultAcknowledgedAt ? { resultAcknowledgedAt: o.resultAcknowledgedAt } : {}),
      }));
  }

  /**
   * Resolves with what `check` returns once it returns something (checked now and after every
   * change); rejects after the timeout with what was awaited and what there is.
   */
  waitUntil<R>(
    check: () => R | undefined | false | null,
    description: string,
    options: SimWaitOptions = {},
  ): Promise<R> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise<R>((resolve, reject) => {
      const waiter: Waiter = () => {
        let value: R | undefined | false | null;
        try {
          value = check();
        } catch (error) {
          finish();
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (value !== undefined && value !== false && value !== null) {
          finish();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `simulated ${this.ancillary}: timed out after ${timeoutMs} ms waiting for ${description} ` +
              `(${this.arrivals.length} message(s) received, ${this.byPlacer.size} order(s): ${this.statusCounts()})`,
          ),
        );
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
      waiter();
    });
  }

  private statusCounts(): string {
    const counts = new Map<string, number>();
    for (const { record } of this.byPlacer.values()) {
      counts.set(record.status, (counts.get(record.status) ?? 0) + 1);
    }
    return [...counts].map(([s, n]) => `${s} ${n}`).join(', ') || 'none';
  }

  private changed(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/**
 * What every simulated ancillary offers tests and tools, whatever its transport: the records
 * and the waits on them.
 */
export abstract class SimulatedAncillary<T> {
  protected readonly book: AncillaryOrderBook<T>;

  protected constructor(
    readonly kind: SimAncillaryKind,
    onEvent: ((event: AncillaryEvent) => void) | undefined,
  ) {
    this.book = new AncillaryOrderBook(kind, (event) => {
      onEvent?.(event);
    });
  }

  /** Every order message received, resends included, in arrival order. */
  received(): ReceivedOrderRecord[] {
    return this.book.received();
  }

  /** Every order, by placer number. */
  orders(): SimOrderRecord[] {
    return this.book.orders();
  }

  order(placerOrderNumber: string): SimOrderRecord | undefined {
    const entry = this.book.get(placerOrderNumber);
    return entry ? { ...entry.record } : undefined;
  }

  /** Per order taken (refused ones left out): received, result sent and acknowledged. */
  timings(): OrderTiming[] {
    return this.book.timings();
  }

  /** Resolves once `n` order messages arrived (resends included). */
  waitForMessages(n: number, options?: SimWaitOptions): Promise<ReceivedOrderRecord[]> {
    return this.book.waitUntil(
      () => {
        const all = this.book.received();
        return all.length >= n ? all : undefined;
      },
      `${n} order message(s)`,
      options,
    );
  }

  /** Resolves once `n` orders were taken (accepted, whatever became of them since). */
  waitForOrders(n: number, options?: SimWaitOptions): Promise<SimOrderRecord[]> {
    return this.book.waitUntil(
      () => {
        const taken = this.book.orders().filter((o) => o.acceptedAt !== undefined);
        return taken.length >= n ? taken : undefined;
      },
      `${n} accepted order(s)`,
      options,
    );
  }

  /** Resolves once `n` results were acknowledged by the gateway. */
  waitForResults(n: number, options?: SimWaitOptions): Promise<SimOrderRecord[]> {
    return this.book.waitUntil(
      () => {
        const done = this.book.orders().filter((o) => o.status === 'resulted');
        return done.length >= n ? done : undefined;
      },
      `${n} acknowledged result(s)`,
      options,
    );
  }

  /** Resolves with what `check` returns once it returns something, re-checked on every change. */
  waitUntil<R>(
    check: (sim: this) => R | undefined | false | null,
    description: string,
    options?: SimWaitOptions,
  ): Promise<R> {
    return this.book.waitUntil(() => check(this), description, options);
  }
}
