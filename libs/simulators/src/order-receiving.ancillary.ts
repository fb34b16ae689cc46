/**
 * A simulated ancillary that receives orders over MLLP and sends results back, as a vendor's
 * test kit does: the base of the simulated LIS, RIS and pharmacy.
 *
 * - Listens for order messages (ORM^O01, OML^O21, RDE^O11) and answers each with the
 *   application acknowledgment (ORR^O02, ORL^O22, RRE^O12) its ack script says: accepted (MSA AA,
 *   ORC-1 OK, ORC-3 a filler number it assigns), refused (AR + ERR), failing (AE / CE), late,
 *   hanging up, silent (see ack-script.ts).
 * - De-duplicates resends by MSH-10: a message already answered AA or AR gets the same answer
 *   again and is processed once. A NEW order whose placer number it already has is answered
 *   with the same filler number (no second order, no second result).
 * - After taking a NEW order it sends the result to the gateway's inbound MLLP port after a
 *   drawn delay (STAT faster), with the platform's MllpClient (resent on AE/CE, timeout,
 *   connection loss); a cancel (ORC-1 CA) that arrives first stops it (answered ORC-1 CR), one
 *   that arrives after the result is refused (AR, ORC-1 UC). Optionally an unsolicited status
 *   update (ORM^O01, ORC-1 SC, ORC-5 IP) goes first.
 * - Keeps every arrival and every order (see ancillary-orders.ts) for tests and the demo, and
 *   can be taken `down()` and brought back `up()` on the same port with its state.
 */
import { buildAck, type AckCode, type AckError, type Hl7Message } from '@ancillary/hl7-core';
import { MllpClient, type MllpClientOptions } from '@ancillary/hl7-mllp';
import type { Logger } from '@ancillary/observability';
import type { Terminology } from '@ancillary/terminology';
import type * as net from 'node:net';
import { describeAckAction, toAckScript, type AckAction, type AckScript } from './ack-script';
import {
  drawDelay,
  SimulatedAncillary,
  toDelayRange,
  type AncillaryEvent,
  type DelayRange,
  type ReceivedOrderRecord,
  type SimAncillaryKind,
  type SimOrderRecord,
} from './ancillary-orders';
import {
  buildOrderAnswer,
  buildOrderStatusUpdate,
  type OrderAnswerLine,
} from './order-answer.builder';
import { readReceivedOrder, type ReceivedOrderMessage } from './received-order.reader';
import { ScriptedMllpListener, type ListenerReply } from './scripted-mllp.listener';
import { SeededRandom } from './seeded-random';

export interface OrderReceivingAncillaryOptions {
  terminology: Terminology;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port for orders; 0 picks a free one (tests). */
  port: number;
  /** The gateway's inbound MLLP address results go to; host default 127.0.0.1. */
  resultHost?: string;
  resultPort: number;
  /** How to answer (ack-script.ts); default accept everything. */
  script?: AckScript | string;
  /** Order to result, ms; default 1000–3000. */
  resultDelayMs?: DelayRange | number;
  /** Order to result for STAT orders; default half of `resultDelayMs`. */
  statResultDelayMs?: DelayRange | number;
  /** Send results at all; default true. */
  sendResults?: boolean;
  /** Send an ORC-5 IP status update half-way to the result; default false. */
  statusUpdates?: boolean;
  /** Seed of values, delays and report texts; default 1. */
  seed?: number;
  /**
   * 1–8 of [A-Z0-9] in every filler number and MSH-10 the simulator writes; default from the
   * clock, so that a restarted simulator never repeats a control id the gateway has seen.
   */
  runId?: string;
  /** Terminology facility (facilities.csv); default NWH-LAB, NWH-RAD or NWH-RX. */
  facility?: string;
  /** MSH-3; default the facility's sending application (SIMLIS, SIMRIS, SIMRX). */
  sendingApplication?: string;
  /** MSH-5 / MSH-6 of results; default ANCILLARY-HUB / NWH. */
  receivingApplication?: string;
  receivingFacility?: string;
  /** Resending results; default 30 attempts, 0.5–10 s backoff. */
  resultRetry?: MllpClientOptions['retry'];
  /** ACK timeout per result attempt; default 10 s. */
  resultAckTimeoutMs?: number;
  logger?: Logger;
  onEvent?: (event: AncillaryEvent) => void;
}

/** What the simulator keeps per order to build its result. */
export interface MllpOrderSource<D> {
  readonly received: ReceivedOrderMessage;
  /** Index of the order in the message (ORC group). */
  readonly line: number;
  /**
   * What the ancillary resolved the ordered code to (orderable, procedure, formulary row);
   * undefined for orders it refused or only saw cancelled.
   */
  readonly detail: D | undefined;
}

/** The outcome of checking a new order's content. */
export type OrderCheck<D> =
  | { readonly ok: true; readonly detail: D }
  | { readonly ok: false; readonly reason: string; readonly error?: Partial<AckError> };

/** What a concrete ancillary says about itself. */
export interface AncillaryProfile {
  readonly kind: SimAncillaryKind;
  readonly defaultFacility: string;
  /** First character(s) of its filler numbers, e.g. `F`, `A` (accession), `RX`. */
  readonly fillerPrefix: string;
  /** MSH-9.1^9.2 it takes orders as. */
  readonly acceptedTypes: readonly string[];
  /** HL7 version of its own messages (status updates, results). */
  readonly version: string;
}

export const DEFAULT_RESULT_DELAY: DelayRange = Object.freeze({ minMs: 1000, maxMs: 3000 });
const DEFAULT_RESULT_RETRY = { maxAttempts: 30, initialDelayMs: 500, maxDelayMs: 10_000 };
const RUN_ID = /^[A-Z0-9]{1,8}$/;

interface PendingReply {
  readonly arrival: ReceivedOrderRecord;
  readonly filler: string | null;
}

type Plan<D> =
  | { kind: 'new'; line: number; detail: D }
  | { kind: 'repeat'; line: number; filler: string | null }
  | { kind: 'cancel'; line: number; filler: string | null; known: boolean }
  | {
      kind: 'refuse';
      line: number;
      control: 'UA' | 'UC';
      reason: string;
      error?: Partial<AckError>;
    };

export abstract class OrderReceivingAncillary<D> extends SimulatedAncillary<MllpOrderSource<D>> {
  readonly facility: string;
  readonly sendingApplication: string;
  readonly runId: string;
  protected readonly terminology: Terminology;
  protected readonly random: SeededRandom;
  protected readonly receivingApplication: string;
  protected readonly receivingFacility: string;
  protected readonly logger: Logger | undefined;
  protected readonly profile: AncillaryProfile;
  private readonly answers = new Map<string, { answer: Hl7Message; filler: string | null }>();
  private readonly pending = new WeakMap<Hl7Message, PendingReply>();
  private readonly listener: ScriptedMllpListener;
  private readonly delay: DelayRange;
  private readonly statDelay: DelayRange;
  private script: AckScript;
  private client: MllpClient | undefined;
  private boundPort: number | undefined;
  private scriptIndex = 0;
  private controlSeq = 0;
  private fillerSeq = 0;
  private stopped = false;

  protected constructor(
    protected readonly options: OrderReceivingAncillaryOptions,
    profile: AncillaryProfile,
  ) {
    super(profile.kind, options.onEvent);
    this.profile = profile;
    this.terminology = options.terminology;
    this.facility = options.facility ?? profile.defaultFacility;
    const entry = this.terminology.facility(this.facility);
    if (!entry) {
      throw new RangeError(
        `simulated ${this.kind}: facility ${this.facility} is not in the terminology's facilities.csv`,
      );
    }
    this.sendingApplication = options.sendingApplication ?? entry.sendingApplication;
    this.receivingApplication = options.receivingApplication ?? 'ANCILLARY-HUB';
    this.receivingFacility = options.receivingFacility ?? 'NWH';
    this.runId = options.runId ?? Date.now().toString(36).toUpperCase().slice(-6);
    if (!RUN_ID.test(this.runId)) {
      throw new RangeError(`runId must be 1–8 characters A-Z or 0-9, got ${this.runId}`);
    }
    this.random = new SeededRandom(options.seed ?? 1);
    this.delay = toDelayRange(options.resultDelayMs ?? DEFAULT_RESULT_DELAY);
    this.statDelay = toDelayRange(
      options.statResultDelayMs ?? {
        minMs: Math.round(this.delay.minMs / 2),
        maxMs: Math.round(this.delay.maxMs / 2),
      },
    );
    this.script = toAckScript(options.script);
    this.logger = options.logger;
    this.listener = new ScriptedMllpListener({
      host: options.host ?? '127.0.0.1',
      port: options.port,
      handler: (message) => this.onMessage(message),
      onReplied: (message, reply, written) => {
        this.onReplied(message, reply, written);
      },
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  /** Checks a new order (its code, mostly); refused orders are answered AR, ORC-1 UA. */
  protected abstract checkOrder(received: ReceivedOrderMessage, line: number): OrderCheck<D>;

  /** The result message of an order, MSH-10 `controlId`. */
  protected abstract buildResult(
    source: MllpOrderSource<D> & { readonly detail: D },
    order: SimOrderRecord,
    controlId: string,
    now: Date,
  ): Hl7Message;

  /** Starts listening for orders; resolves with the bound address (port 0 → the one picked). */
  async start(): Promise<net.AddressInfo> {
    if (this.stopped) throw new Error(`simulated ${this.kind} was stopped`);
    const address = await this.listener.listen(this.boundPort ?? this.options.port);
    this.boundPort = address.port;
    this.options.onEvent?.({ type: 'listening', ancillary: this.kind, port: address.port });
    return address;
  }

  /** Stops everything: listener, pending results, the result sender. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.book.close();
    await this.listener.close();
    await this.client?.close();
  }

  /** Stops listening (connections dropped, new ones refused); state and pending results stay. */
  async down(): Promise<void> {
    await this.listener.close();
    if (this.boundPort !== undefined) {
      this.options.onEvent?.({ type: 'down', ancillary: this.kind, port: this.boundPort });
    }
  }

  /** Listens again, on the same port as before. */
  up(): Promise<net.AddressInfo> {
    return this.start();
  }

  get isUp(): boolean {
    return this.listener.listening;
  }

  /** The port orders are received on (once started). */
  get port(): number {
    if (this.boundPort === undefined) throw new Error(`simulated ${this.kind} has not started`);
    return this.boundPort;
  }

  /** Replaces the ack script (arrival numbers go on counting). */
  setScript(script: AckScript | string): void {
    this.script = toAckScript(script);
  }

  get scriptText(): string {
    return this.script.toString();
  }

  // ------------------------------------------------------------------------------------------
  // receiving
  // ------------------------------------------------------------------------------------------

  private onMessage(message: Hl7Message): ListenerReply {
    const receivedAt = new Date();
    const type = message.messageType;
    if (!this.profile.acceptedTypes.includes(type)) {
      this.logger?.warn(
        { controlId: message.controlId, messageType: type },
        `simulated ${this.kind}: message type not accepted`,
      );
      return {
        kind: 'answer',
        message: this.ack(message, 'AR', [
          {
            hl7ErrorCode: '200',
            segment: 'MSH',
            field: 9,
            text: `${this.sendingApplication} does not accept ${type} (accepts ${this.profile.acceptedTypes.join(', ')})`,
          },
        ]),
      };
    }
    let received: ReceivedOrderMessage;
    try {
      received = readReceivedOrder(message);
    } catch (error) {
      return {
        kind: 'answer',
        message: this.ack(message, 'AR', [
          { hl7ErrorCode: '100', text: error instanceof Error ? error.message : String(error) },
        ]),
      };
    }
    const { content } = received;
    const first = content.lines[0];
    const base = {
      controlId: content.controlId,
      messageType: type,
      orderControl: first?.orderControl ?? '',
      placerOrderNumber: first?.placerOrderNumber ?? '',
      fillerOrderNumber: first?.fillerOrderNumber ?? null,
      code: first?.code ?? '',
      priority: first?.priority ?? 'R',
      stat: first?.stat ?? false,
      patientMrn: content.patientMrn,
      receivedAt,
    };
    const cached = this.answers.get(content.controlId);
    if (cached) {
      const arrival = this.book.arrived({
        ...base,
        duplicate: true,
        scriptIndex: null,
        action: 'repeat',
      });
      this.pending.set(message, { arrival, filler: cached.filler });
      return { kind: 'answer', message: cached.answer };
    }
    const index = ++this.scriptIndex;
    const decision = this.script.decide({
      index,
      placers: content.lines.map((l) => l.placerOrderNumber),
      codes: content.lines.flatMap((l) => l.codings.map((c) => c.code)),
      orderControls: content.lines.map((l) => l.orderControl),
      priorities: content.lines.map((l) => l.priority),
    });
    const arrival = this.book.arrived({
      ...base,
      duplicate: false,
      scriptIndex: index,
      action: describeAckAction(decision.action),
    });
    const reply = this.perform(decision.action, received, receivedAt);
    this.pending.set(message, {
      arrival,
      filler: this.answers.get(content.controlId)?.filler ?? null,
    });
    return reply;
  }

  private perform(
    action: AckAction,
    received: ReceivedOrderMessage,
    receivedAt: Date,
  ): ListenerReply {
    switch (action.kind) {
      case 'accept':
        return { kind: 'answer', message: this.process(received, receivedAt) };
      case 'reject':
        return {
          kind: 'answer',
          message: this.refuse(
            received,
            receivedAt,
            action.text ?? `Order refused by ${this.sendingApplication}`,
          ),
        };
      case 'error':
      case 'commit-error': {
        const code: AckCode = action.kind === 'error' ? 'AE' : 'CE';
        const text =
          action.text ?? `${this.sendingApplication} cannot take orders right now; please resend`;
        return {
          kind: 'answer',
          message: buildOrderAnswer(received, {
            code,
            text,
            errors: [{ hl7ErrorCode: '207', text }],
            sendingApplication: this.sendingApplication,
            sendingFacility: this.facility,
            lines: [],
          }),
        };
      }
      case 'delay': {
        const inner = this.perform(action.then, received, receivedAt);
        return inner.kind === 'silent' ? inner : { ...inner, delayMs: action.ms };
      }
      case 'drop':
        return { kind: 'drop' };
      case 'lose-ack':
        this.process(received, receivedAt);
        return { kind: 'drop' };
      case 'silent':
        return { kind: 'silent' };
    }
  }

  /** Takes the message's orders (or refuses all of them); the answer is cached by MSH-10. */
  private process(received: ReceivedOrderMessage, receivedAt: Date): Hl7Message {
    const plans = received.content.lines.map((_, line) => this.plan(received, line));
    const refusals = plans.filter(
      (p): p is Extract<Plan<D>, { kind: 'refuse' }> => p.kind === 'refuse',
    );
    if (refusals.length > 0) {
      for (const plan of plans) {
        if (plan.kind === 'new' || plan.kind === 'refuse') {
          const reason = refusals.find((r) => r.line === plan.line)?.reason ?? refusals[0]?.reason;
          this.recordRejected(received, plan.line, receivedAt, reason ?? 'refused');
        }
      }
      const answer = buildOrderAnswer(received, {
        code: 'AR',
        text: refusals.map((r) => r.reason).join('; '),
        errors: refusals.map((r) => ({ hl7ErrorCode: '207', text: r.reason, ...r.error })),
        sendingApplication: this.sendingApplication,
        sendingFacility: this.facility,
        lines: plans.map((p) => ({
          line: p.line,
          orderControl: p.kind === 'refuse' ? p.control : p.kind === 'cancel' ? 'UC' : 'UA',
          fillerOrderNumber: p.kind === 'repeat' || p.kind === 'cancel' ? p.filler : null,
        })),
      });
      this.answers.set(received.content.controlId, { answer, filler: null });
      return answer;
    }
    const lines: OrderAnswerLine[] = plans.map((plan) => this.apply(plan, received, receivedAt));
    const answer = buildOrderAnswer(received, {
      code: 'AA',
      sendingApplication: this.sendingApplication,
      sendingFacility: this.facility,
      lines,
    });
    this.answers.set(received.content.controlId, {
      answer,
      filler: lines[0]?.fillerOrderNumber ?? null,
    });
    return answer;
  }

  /** A scripted refusal: every order of the message is refused with `text`. */
  private refuse(received: ReceivedOrderMessage, receivedAt: Date, text: string): Hl7Message {
    const lines = received.content.lines.map((line, i): OrderAnswerLine => {
      if (line.orderControl !== 'CA') this.recordRejected(received, i, receivedAt, text);
      const known = this.book.get(line.placerOrderNumber)?.record;
      return {
        line: i,
        orderControl: line.orderControl === 'CA' ? 'UC' : 'UA',
        fillerOrderNumber: known && known.status !== 'rejected' ? known.fillerOrderNumber : null,
      };
    });
    const answer = buildOrderAnswer(received, {
      code: 'AR',
      text,
      errors: [{ hl7ErrorCode: '207', text }],
      sendingApplication: this.sendingApplication,
      sendingFacility: this.facility,
      lines,
    });
    this.answers.set(received.content.controlId, { answer, filler: null });
    return answer;
  }

  private plan(received: ReceivedOrderMessage, line: number): Plan<D> {
    const ordered = received.content.lines[line];
    if (!ordered) throw new RangeError(`no order ${line}`);
    const known = this.book.get(ordered.placerOrderNumber)?.record;
    const live = known && known.status !== 'rejected' ? known : undefined;
    if (ordered.orderControl === 'CA') {
      if (
        live &&
        (live.status === 'resulting' ||
          live.status === 'resulted' ||
          live.status === 'result-failed')
      ) {
        return {
          kind: 'refuse',
          line,
          control: 'UC',
          reason: `Order ${ordered.placerOrderNumber} was already resulted and can no longer be cancelled`,
        };
      }
      return {
        kind: 'cancel',
        line,
        filler: live?.fillerOrderNumber ?? null,
        known: live !== undefined,
      };
    }
    if (ordered.orderControl !== 'NW') {
      return {
        kind: 'refuse',
        line,
        control: 'UA',
        reason: `Order control ${ordered.orderControl} is not supported by ${this.sendingApplication} (NW, CA)`,
        error: { segment: 'ORC', field: 1 },
      };
    }
    if (!ordered.placerOrderNumber) {
      return {
        kind: 'refuse',
        line,
        control: 'UA',
        reason: 'The order has no placer order number (ORC-2)',
        error: { hl7ErrorCode: '101', segment: 'ORC', field: 2 },
      };
    }
    if (live) return { kind: 'repeat', line, filler: live.fillerOrderNumber };
    const check = this.checkOrder(received, line);
    if (!check.ok) {
      return {
        kind: 'refuse',
        line,
        control: 'UA',
        reason: check.reason,
        ...(check.error ? { error: check.error } : {}),
      };
    }
    return { kind: 'new', line, detail: check.detail };
  }

  private apply(plan: Plan<D>, received: ReceivedOrderMessage, receivedAt: Date): OrderAnswerLine {
    const ordered = received.content.lines[plan.line];
    if (!ordered) throw new RangeError(`no order ${plan.line}`);
    switch (plan.kind) {
      case 'repeat':
        return { line: plan.line, orderControl: 'OK', fillerOrderNumber: plan.filler };
      case 'cancel': {
        if (plan.known) {
          const record = this.book.get(ordered.placerOrderNumber)?.record;
          if (record?.status === 'accepted') {
            this.book.update(ordered.placerOrderNumber, {
              status: 'cancelled',
              cancelledAt: receivedAt,
            });
          }
        } else {
          // nothing to cancel is cancelled all the same (an order this instance never saw)
          this.book.put(
            {
              ...this.recordBase(received, plan.line, receivedAt),
              fillerOrderNumber: null,
              status: 'cancelled',
              cancelledAt: receivedAt,
            },
            { received, line: plan.line, detail: undefined },
          );
        }
        return { line: plan.line, orderControl: 'CR', fillerOrderNumber: plan.filler };
      }
      case 'new': {
        const filler = `${this.profile.fillerPrefix}${this.runId}${String(++this.fillerSeq).padStart(5, '0')}`;
        this.book.put(
          {
            ...this.recordBase(received, plan.line, receivedAt),
            fillerOrderNumber: filler,
            status: 'accepted',
            acceptedAt: receivedAt,
          },
          { received, line: plan.line, detail: plan.detail },
        );
        this.schedule(ordered.placerOrderNumber, ordered.stat);
        return { line: plan.line, orderControl: 'OK', fillerOrderNumber: filler };
      }
      case 'refuse':
        return { line: plan.line, orderControl: plan.control, fillerOrderNumber: null };
    }
  }

  private recordBase(
    received: ReceivedOrderMessage,
    line: number,
    receivedAt: Date,
  ): Omit<SimOrderRecord, 'fillerOrderNumber' | 'status'> {
    const ordered = received.content.lines[line];
    return {
      ancillary: this.kind,
      placerOrderNumber: ordered?.placerOrderNumber ?? '',
      code: ordered?.code ?? '',
      priority: ordered?.priority ?? 'R',
      stat: ordered?.stat ?? false,
      patientMrn: received.content.patientMrn,
      controlId: received.content.controlId,
      receivedAt,
    };
  }

  private recordRejected(
    received: ReceivedOrderMessage,
    line: number,
    receivedAt: Date,
    reason: string,
  ): void {
    const placer = received.content.lines[line]?.placerOrderNumber ?? '';
    const known = this.book.get(placer)?.record;
    if (known && known.status !== 'rejected') return;
    this.book.put(
      {
        ...this.recordBase(received, line, receivedAt),
        fillerOrderNumber: null,
        status: 'rejected',
        rejectReason: reason,
      },
      { received, line, detail: undefined },
    );
  }

  private onReplied(message: Hl7Message, reply: ListenerReply, written: boolean): void {
    const pending = this.pending.get(message);
    if (!pending) return;
    this.pending.delete(message);
    const answer =
      reply.kind === 'answer'
        ? written
          ? (reply.message.get('MSA-1') ?? '?')
          : 'undelivered'
        : reply.kind === 'drop'
          ? 'dropped'
          : 'silent';
    this.book.answered(pending.arrival, answer, answer === 'AA' ? pending.filler : null);
  }

  private ack(message: Hl7Message, code: AckCode, errors: AckError[]): Hl7Message {
    return buildAck(message, code, { errors })
      .set('MSH-3', this.sendingApplication)
      .set('MSH-4', this.facility);
  }

  // ------------------------------------------------------------------------------------------
  // results
  // ------------------------------------------------------------------------------------------

  /** A new MSH-10 for a message of this simulator: `<tag><run id><n>`, ≤ 16 characters. */
  protected nextControlId(tag: string): string {
    return `${tag}${this.runId}${String(++this.controlSeq).padStart(7, '0')}`;
  }

  private schedule(placer: string, stat: boolean): void {
    if (this.options.sendResults === false) return;
    const delay = drawDelay(stat ? this.statDelay : this.delay, this.random);
    this.book.update(placer, { resultDueAt: new Date(Date.now() + delay) });
    if (this.options.statusUpdates) {
      this.book.later(Math.floor(delay / 2), () => this.sendStatus(placer));
    }
    this.book.later(delay, () => this.sendResult(placer));
  }

  private async sendStatus(placer: string): Promise<void> {
    const entry = this.book.get(placer);
    if (entry?.record.status !== 'accepted' || !entry.record.fillerOrderNumber) return;
    const update = buildOrderStatusUpdate(entry.source.received, {
      status: 'IP',
      line: entry.source.line,
      fillerOrderNumber: entry.record.fillerOrderNumber,
      version: this.profile.version,
      controlId: this.nextControlId('S'),
      sendingApplication: this.sendingApplication,
      sendingFacility: this.facility,
      receivingApplication: this.receivingApplication,
      receivingFacility: this.receivingFacility,
    });
    try {
      await this.resultClient().send(update);
      const order = this.book.update(placer, { statusSentAt: new Date() });
      if (order)
        this.options.onEvent?.({ type: 'status-sent', ancillary: this.kind, order, status: 'IP' });
    } catch (error) {
      this.logger?.warn(
        { placerOrderNumber: placer, err: errorText(error) },
        `simulated ${this.kind}: status update not acknowledged`,
      );
    }
  }

  private async sendResult(placer: string): Promise<void> {
    const entry = this.book.get(placer);
    if (!entry) return;
    if (entry.record.status === 'cancelled') {
      this.options.onEvent?.({
        type: 'result-skipped',
        ancillary: this.kind,
        order: { ...entry.record },
        reason: 'cancelled',
      });
      return;
    }
    if (entry.record.status !== 'accepted') return;
    const { source } = entry;
    if (source.detail === undefined) return;
    const controlId = this.nextControlId('R');
    const now = new Date();
    let message: Hl7Message;
    try {
      message = this.buildResult(
        { ...source, detail: source.detail },
        entry.record,
        controlId,
        now,
      );
    } catch (error) {
      this.resultFailed(placer, `result could not be built: ${errorText(error)}`);
      return;
    }
    this.book.update(placer, {
      status: 'resulting',
      resultSentAt: now,
      resultId: message.controlId,
    });
    try {
      const sent = await this.resultClient().send(message);
      const order = this.book.update(placer, {
        status: 'resulted',
        resultAcknowledgedAt: new Date(),
        resultAttempts: sent.attempts,
      });
      if (order) this.options.onEvent?.({ type: 'result-sent', ancillary: this.kind, order });
    } catch (error) {
      const attempts =
        error instanceof Error && 'attempts' in error && typeof error.attempts === 'number'
          ? error.attempts
          : undefined;
      this.resultFailed(placer, errorText(error), attempts);
    }
  }

  private resultFailed(placer: string, error: string, attempts?: number): void {
    const order = this.book.update(placer, {
      status: 'result-failed',
      resultError: error,
      ...(attempts === undefined ? {} : { resultAttempts: attempts }),
    });
    this.logger?.warn(
      { placerOrderNumber: placer, err: error },
      `simulated ${this.kind}: result not acknowledged by the gateway`,
    );
    if (order)
      this.options.onEvent?.({ type: 'result-failed', ancillary: this.kind, order, error });
  }

  private resultClient(): MllpClient {
    this.client ??= new MllpClient({
      host: this.options.resultHost ?? '127.0.0.1',
      port: this.options.resultPort,
      ackTimeoutMs: this.options.resultAckTimeoutMs ?? 10_000,
      retry: { ...DEFAULT_RESULT_RETRY, ...this.options.resultRetry },
      fallbackCharset: 'latin1',
      ...(this.logger ? { logger: this.logger } : {}),
    });
    return this.client;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
