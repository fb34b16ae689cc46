/**
 * A simulated billing engine (patient accounting): takes DFT^P03 over MLLP, answers each as its
 * ack script says, and posts the accepted charges to a ledger a test or the demo can read,
 * total and print — the far end of the billing trigger (issue #7).
 *
 * - Listens with the simulators' `ScriptedMllpListener` (framing from @ancillary/hl7-mllp):
 *   the platform's `MllpServer` always answers, and answers at once, so it cannot play an
 *   engine that hangs up, loses the ACK or never answers.
 * - Reads each DFT^P03 itself (billing-dft.reader.ts). A message it cannot post — not a
 *   DFT^P03, no PID or FT1, an FT1 without transaction id, date, type CG/CD, charge code or
 *   amount, a malformed number or date — is answered AR with an ERR naming the field and the
 *   reason, whatever the script says (the script never sees it, as a real engine's edits run
 *   before anything else).
 * - Answers the rest as its ack script says (ack-script.ts): `accept` posts every FT1 and
 *   answers AA; `reject[:text]` answers AR with one ERR whose ERR-8 (and MSA-3) is the text —
 *   what the billing trigger must put in its dead letter; `error` AE, `commit-error` CE (not
 *   posted, resend later); `delay:ms[:action]` answers late; `drop` hangs up, not posted;
 *   `lose-ack` posts, then hangs up before the answer; `silent` never answers. In enhanced mode
 *   (MSH-15/16 valued) AA/AE/AR become CA/CE/CR (HL7 v2.5 ch. 2.9.3).
 *   Selectors, for a DFT: `n`, `n-m`, `n+` the arrival number; `code=glob` any FT1-7.1 charge
 *   code, FT1-25.1 CPT/HCPCS code or FT1-29.1 NDC of the message; `placer=glob` any FT1-23.1
 *   filler order number; `new` a message with a charge (CG, quantity ≥ 0), `cancel` one with a
 *   reversal (CD, or CG with a negative quantity); `stat` never matches (a DFT has no priority).
 * - De-duplicates by MSH-10: a message answered AA or AR is answered the very same again and
 *   never posted twice (a resend after a lost ACK); a resend after AE/CE, a drop or silence is
 *   a new arrival and counts for the script, so `error@1` fails the first attempt and posts the
 *   resend.
 * - Keeps every arrival with its answer (`received()`) and the ledger (`ledger()`, `totals()`,
 *   `netByChargeKey()`, `printLedger()`; duplicates and reversals: billing-ledger.ts); can be
 *   taken `down()` and brought back `up()` on the same port with its state.
 * - With `ledgerPort`, also serves its ledger read-only over HTTP (`GET /ledger`,
 *   `/ledger/totals`, `/health`: billing-ledger.http.ts) for other processes, such as the demo;
 *   that stays up while the MLLP side is `down()`, so the ledger can be read during an outage.
 */
import {
  ackModeOf,
  buildAck,
  type AckCode,
  type AckError,
  type Hl7Message,
} from '@ancillary/hl7-core';
import type { Logger } from '@ancillary/observability';
import type * as net from 'node:net';
import {
  describeAckAction,
  toAckScript,
  type AckAction,
  type AckScript,
  type AckSubject,
} from './ack-script';
import type { SimWaitOptions } from './ancillary-orders';
import { DftReadError, readDftP03, type ReceivedDft } from './billing-dft.reader';
import {
  BillingLedger,
  billingLedgerTable,
  billingTotalsTable,
  type BillingLedgerLine,
  type BillingTotals,
  type ChargeKeyNet,
} from './billing-ledger';
import { BillingLedgerHttpServer } from './billing-ledger.http';
import { ScriptedMllpListener, type ListenerReply } from './scripted-mllp.listener';

export { BillingLedgerHttpServer, type BillingLedgerSource } from './billing-ledger.http';

export interface BillingEngineSimulatorOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port (tests); the demo uses 2593. */
  port: number;
  /** How to answer (ack-script.ts); default accept everything. */
  script?: AckScript | string;
  /** MSH-3 / MSH-4 of its ACKs; default SIMBILL / NWH-BILL. */
  sendingApplication?: string;
  facility?: string;
  /** FT1-26 modifiers exempt from the duplicate flag; default 76, 77, 91 (billing-ledger.ts). */
  duplicateExemptModifiers?: readonly string[];
  /** Serve the ledger over HTTP on this port (0 picks a free one; the demo uses 2594); default none. */
  ledgerPort?: number;
  /** Interface of the ledger HTTP server; default `host`. */
  ledgerHost?: string;
  logger?: Logger;
  onEvent?: (event: BillingEngineEvent) => void;
}

/** One DFT that arrived (resends included), with what became of it. */
export interface BillingArrival {
  /** Arrival order, 1-based. */
  readonly seq: number;
  /** MSH-10. */
  readonly controlId: string;
  /** MSH-9.1^MSH-9.2. */
  readonly messageType: string;
  readonly receivedAt: Date;
  /** The message as received, to check field by field. */
  readonly message: Hl7Message;
  /** What the engine read from it; null when it could not be read (answered AR). */
  readonly dft: ReceivedDft | null;
  /** Answered from the de-duplication cache (same MSH-10 as a message answered AA/AR). */
  readonly duplicate: boolean;
  /** Arrival number the script saw; null for resends from the cache and unreadable messages. */
  readonly scriptIndex: number | null;
  /** The scripted behaviour (`accept`, `reject:…`, `drop`…), `repeat` or `invalid`. */
  readonly action: string;
  /** AA, AR, AE, CE (CA, CR in enhanced mode), `dropped`, `silent`, `undelivered`; null while pending. */
  readonly answer: string | null;
  /** The ERR text of a negative answer. */
  readonly errorText: string | null;
  /** `seq` of the ledger lines this arrival posted (none for a resend). */
  readonly posted: readonly number[];
}

export type BillingEngineEvent =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'down'; readonly port: number }
  /** An arrival was answered (or dropped, or left silent). */
  | { readonly type: 'answered'; readonly arrival: BillingArrival };

/** Everything the engine holds, as JSON-friendly data (the CLI's --ledger-file). */
export interface BillingLedgerSnapshot {
  readonly ledger: readonly BillingLedgerLine[];
  readonly totals: BillingTotals;
  readonly netByChargeKey: readonly ChargeKeyNet[];
  readonly received: readonly Omit<BillingArrival, 'message' | 'dft'>[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Arrival = Mutable<Omit<BillingArrival, 'posted'>> & { posted: number[] };

/** What the script sees of a DFT (see the module comment for what each selector matches). */
export function dftAckSubject(dft: ReceivedDft, index: number): AckSubject {
  const codes = dft.transactions.flatMap((t) =>
    [t.chargeCode, t.procedureCode, t.ndc].filter((c): c is string => c !== null),
  );
  const controls = dft.transactions.map((t) =>
    t.transactionType === 'CD' || t.quantity < 0 ? 'CA' : 'NW',
  );
  return {
    index,
    placers: dft.transactions.flatMap((t) =>
      t.fillerOrderNumber === null ? [] : [t.fillerOrderNumber],
    ),
    codes: [...new Set(codes)],
    orderControls: [...new Set(controls)],
    priorities: [],
  };
}

export class BillingEngineSimulator {
  readonly sendingApplication: string;
  readonly facility: string;
  private readonly listener: ScriptedMllpListener;
  private readonly book: BillingLedger;
  private readonly arrivals: Arrival[] = [];
  private readonly answers = new Map<string, Hl7Message>();
  private readonly pending = new WeakMap<Hl7Message, Arrival>();
  private readonly waiters = new Set<() => void>();
  private readonly logger: Logger | undefined;
  private readonly ledgerHttp: BillingLedgerHttpServer | undefined;
  private script: AckScript;
  private scriptIndex = 0;
  private boundPort: number | undefined;
  private ledgerListening = false;
  private stopped = false;

  constructor(private readonly options: BillingEngineSimulatorOptions) {
    this.sendingApplication = options.sendingApplication ?? 'SIMBILL';
    this.facility = options.facility ?? 'NWH-BILL';
    this.script = toAckScript(options.script);
    this.logger = options.logger;
    this.book = new BillingLedger(
      options.duplicateExemptModifiers
        ? { duplicateExemptModifiers: options.duplicateExemptModifiers }
        : {},
    );
    this.listener = new ScriptedMllpListener({
      host: options.host ?? '127.0.0.1',
      port: options.port,
      handler: (message) => this.onMessage(message),
      onReplied: (message, reply, written) => {
        this.onReplied(message, reply, written);
      },
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.ledgerHttp =
      options.ledgerPort === undefined
        ? undefined
        : new BillingLedgerHttpServer(this, {
            host: options.ledgerHost ?? options.host ?? '127.0.0.1',
            port: options.ledgerPort,
          });
  }

  /**
   * Starts listening (and, the first time, the ledger HTTP server when `ledgerPort` is set);
   * resolves with the MLLP address (port 0 → the one picked).
   */
  async start(): Promise<net.AddressInfo> {
    if (this.stopped) throw new Error('simulated billing engine was stopped');
    const address = await this.listener.listen(this.boundPort ?? this.options.port);
    this.boundPort = address.port;
    if (this.ledgerHttp && !this.ledgerListening) {
      try {
        await this.ledgerHttp.listen();
        this.ledgerListening = true;
      } catch (error) {
        await this.listener.close();
        throw error;
      }
    }
    this.options.onEvent?.({ type: 'listening', port: address.port });
    return address;
  }

  /** Stops listening for good; the ledger stays readable. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.listener.close(), this.ledgerHttp?.close()]);
  }

  /** Stops listening (connections dropped, new ones refused); the ledger and cache stay. */
  async down(): Promise<void> {
    await this.listener.close();
    if (this.boundPort !== undefined) {
      this.options.onEvent?.({ type: 'down', port: this.boundPort });
    }
  }

  /** Listens again, on the same port as before. */
  up(): Promise<net.AddressInfo> {
    return this.start();
  }

  get isUp(): boolean {
    return this.listener.listening;
  }

  /** The port DFTs are received on (once started). */
  get port(): number {
    if (this.boundPort === undefined) throw new Error('simulated billing engine has not started');
    return this.boundPort;
  }

  /** Where the ledger is served, e.g. `http://127.0.0.1:2594` (`ledgerPort` set and started). */
  get ledgerUrl(): string {
    if (!this.ledgerHttp || !this.ledgerListening) {
      throw new Error('simulated billing engine: no ledger HTTP server (ledgerPort) running');
    }
    return this.ledgerHttp.url;
  }

  /** Replaces the ack script (arrival numbers go on counting). */
  setScript(script: AckScript | string): void {
    this.script = toAckScript(script);
  }

  get scriptText(): string {
    return this.script.toString();
  }

  /** Every DFT received, resends included, in arrival order. */
  received(): BillingArrival[] {
    return this.arrivals.map((a) => ({ ...a, posted: [...a.posted] }));
  }

  /** Every ledger line, in posting order. */
  ledger(): BillingLedgerLine[] {
    return this.book.lines();
  }

  totals(): BillingTotals {
    return this.book.totals();
  }

  /** Net quantity and amount per patient + charge code + date of service. */
  netByChargeKey(): ChargeKeyNet[] {
    return this.book.netByChargeKey();
  }

  /** The ledger table, then the totals per department and the duplicate count. */
  printLedger(): string {
    return `${billingLedgerTable(this.book.lines())}\n\n${billingTotalsTable(this.book.totals())}`;
  }

  snapshot(): BillingLedgerSnapshot {
    return {
      ledger: this.ledger(),
      totals: this.totals(),
      netByChargeKey: this.netByChargeKey(),
      received: this.arrivals.map(({ message: _m, dft: _d, ...rest }) => ({
        ...rest,
        posted: [...rest.posted],
      })),
    };
  }

  /** Resolves with the ledger once it has at least `n` lines. */
  waitForLines(n: number, options?: SimWaitOptions): Promise<BillingLedgerLine[]> {
    return this.waitUntil(
      () => (this.book.size >= n ? this.book.lines() : undefined),
      `${n} ledger line(s)`,
      options,
    );
  }

  /** Resolves once `n` DFTs were received and answered (or dropped / left silent). */
  waitForAnswers(n: number, options?: SimWaitOptions): Promise<BillingArrival[]> {
    return this.waitUntil(
      () => {
        const done = this.arrivals.filter((a) => a.answer !== null);
        return done.length >= n ? this.received() : undefined;
      },
      `${n} answered DFT(s)`,
      options,
    );
  }

  /**
   * Resolves with what `check` returns once it returns something (checked now and after every
   * arrival, answer and posting); rejects after the timeout (default 30 s) saying what it has.
   */
  waitUntil<R>(
    check: (sim: this) => R | undefined | false | null,
    description: string,
    options: SimWaitOptions = {},
  ): Promise<R> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise<R>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = (): void => {
        try {
          const value = check(this);
          if (value !== undefined && value !== false && value !== null) {
            finish();
            resolve(value);
          }
        } catch (error) {
          finish();
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `simulated billing engine: timed out after ${timeoutMs} ms waiting for ${description} ` +
              `(${this.arrivals.length} DFT(s) received, ${this.book.size} ledger line(s))`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
      waiter();
    });
  }

  // ------------------------------------------------------------------------------------------

  private onMessage(message: Hl7Message): ListenerReply {
    const arrival: Arrival = {
      seq: this.arrivals.length + 1,
      controlId: message.controlId,
      messageType: message.messageType,
      receivedAt: new Date(),
      message,
      dft: null,
      duplicate: false,
      scriptIndex: null,
      action: 'invalid',
      answer: null,
      errorText: null,
      posted: [],
    };
    this.arrivals.push(arrival);
    this.pending.set(message, arrival);
    const reply = this.decide(message, arrival);
    this.changed();
    return reply;
  }

  private decide(message: Hl7Message, arrival: Arrival): ListenerReply {
    const cached = this.answers.get(message.controlId);
    if (cached) {
      arrival.duplicate = true;
      arrival.action = 'repeat';
      arrival.errorText = errorTextOf(cached);
      return { kind: 'answer', message: cached };
    }
    let dft: ReceivedDft;
    try {
      dft = readDftP03(message);
    } catch (error) {
      const ackError: AckError =
        error instanceof DftReadError
          ? error.ackError
          : { hl7ErrorCode: '207', text: error instanceof Error ? error.message : String(error) };
      this.logger?.warn(
        { controlId: message.controlId, reason: ackError.text },
        'simulated billing engine: DFT refused',
      );
      arrival.errorText = ackError.text;
      return this.final(message, 'AR', [ackError], ackError.text);
    }
    arrival.dft = dft;
    const index = ++this.scriptIndex;
    const decision = this.script.decide(dftAckSubject(dft, index));
    arrival.scriptIndex = index;
    arrival.action = describeAckAction(decision.action);
    return this.perform(decision.action, message, dft, arrival);
  }

  private perform(
    action: AckAction,
    message: Hl7Message,
    dft: ReceivedDft,
    arrival: Arrival,
  ): ListenerReply {
    switch (action.kind) {
      case 'accept':
        this.post(dft, arrival);
        return this.final(message, 'AA');
      case 'reject': {
        const text = action.text ?? `Charges refused by ${this.sendingApplication}`;
        arrival.errorText = text;
        return this.final(message, 'AR', [{ hl7ErrorCode: '207', text }], text);
      }
      case 'error':
      case 'commit-error': {
        const text =
          action.text ?? `${this.sendingApplication} cannot post charges right now; please resend`;
        arrival.errorText = text;
        const code = action.kind === 'error' ? this.code(message, 'AE') : 'CE';
        return {
          kind: 'answer',
          message: this.ack(message, code, [{ hl7ErrorCode: '207', text }], text),
        };
      }
      case 'delay': {
        const inner = this.perform(action.then, message, dft, arrival);
        return inner.kind === 'silent' ? inner : { ...inner, delayMs: action.ms };
      }
      case 'drop':
        return { kind: 'drop' };
      case 'lose-ack':
        this.post(dft, arrival);
        this.final(message, 'AA');
        return { kind: 'drop' };
      case 'silent':
        return { kind: 'silent' };
    }
  }

  /** An AA or AR: cached by MSH-10, so a resend gets these very bytes and is not posted again. */
  private final(
    message: Hl7Message,
    code: 'AA' | 'AR',
    errors: AckError[] = [],
    text?: string,
  ): ListenerReply {
    const answer = this.ack(message, this.code(message, code), errors, text);
    this.answers.set(message.controlId, answer);
    return { kind: 'answer', message: answer };
  }

  private post(dft: ReceivedDft, arrival: Arrival): void {
    const lines = this.book.post(dft, arrival.receivedAt);
    arrival.posted = lines.map((l) => l.seq);
    for (const line of lines.filter((l) => l.duplicate)) {
      this.logger?.info(
        { controlId: dft.controlId, transactionId: line.transactionId, seq: line.seq },
        `simulated billing engine: charge ${line.chargeCode} flagged as a duplicate of #${line.duplicateOf ?? '?'}`,
      );
    }
  }

  /** The code in the message's acknowledgment mode: enhanced mode answers CA / CE / CR. */
  private code(message: Hl7Message, code: 'AA' | 'AE' | 'AR'): AckCode {
    if (!ackModeOf(message).enhanced) return code;
    return code === 'AA' ? 'CA' : code === 'AE' ? 'CE' : 'CR';
  }

  private ack(message: Hl7Message, code: AckCode, errors: AckError[], text?: string): Hl7Message {
    return buildAck(message, code, { errors, ...(text === undefined ? {} : { text }) })
      .set('MSH-3', this.sendingApplication)
      .set('MSH-4', this.facility);
  }

  private onReplied(message: Hl7Message, reply: ListenerReply, written: boolean): void {
    const arrival = this.pending.get(message);
    if (!arrival) return;
    this.pending.delete(message);
    arrival.answer =
      reply.kind === 'answer'
        ? written
          ? (reply.message.get('MSA-1') ?? '?')
          : 'undelivered'
        : reply.kind === 'drop'
          ? 'dropped'
          : 'silent';
    this.options.onEvent?.({
      type: 'answered',
      arrival: { ...arrival, posted: [...arrival.posted] },
    });
    this.changed();
  }

  private changed(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** ERR-8 texts (v2.5+), else MSA-3, of an answer; null for none. */
function errorTextOf(answer: Hl7Message): string | null {
  const texts = answer.getAll('ERR-8').filter((t): t is string => Boolean(t));
  if (texts.length > 0) return texts.join('; ');
  return answer.get('MSA-3') || null;
}
