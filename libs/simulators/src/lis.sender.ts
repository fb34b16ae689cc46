/**
 * Sends simulated LIS traffic over MLLP at a fixed rate (or as fast as the receiver answers) and
 * records, for every message, the answer, its latency and when it was sent.
 *
 * - Pacing is by absolute time: message i is due at start + i / rate. A late timer or a slow
 *   ACK delays the messages behind it, but the schedule does not drift, and the report says how
 *   far behind it the sender fell (`lagMs`) — a sender that cannot keep up shows it, instead of
 *   quietly offering less load.
 * - N connections, each one MLLP exchange at a time (the protocol's closed loop): a message
 *   waits for a free connection. Parseable messages go through MllpClient (one attempt by
 *   default, so that the first answer is what is counted; `maxAttempts` > 1 behaves like a
 *   resending LIS); malformed bytes, which MllpClient refuses to send, through a raw connection.
 * - A message that depends on an earlier one (a correction, an exact duplicate) is not sent
 *   before that one was answered, so "resent after its ACK" really is after.
 */
import type { AckCode } from '@ancillary/hl7-core';
import {
  MllpClient,
  MllpConnectionError,
  MllpNackError,
  MllpTimeoutError,
  type MllpLogger,
  type MllpMetricsHooks,
} from '@ancillary/hl7-mllp';
import { performance } from 'node:perf_hooks';
import { summarizeLatencies, type LatencySummary } from './latency.stats';
import { RawMllpConnection } from './raw-mllp.connection';

/** What the sender records as a message's answer. */
export type AckOutcome =
  | AckCode
  /** No answer within the ACK timeout. */
  | 'timeout'
  /** No connection, or it dropped before the answer. */
  | 'connection-error'
  /** An answer that is not an HL7 ACK. */
  | 'invalid-ack'
  /** Not written at all (the run was stopped, or the client refused the bytes). */
  | 'not-sent';

export const ACK_OUTCOMES: readonly AckOutcome[] = [
  'AA',
  'CA',
  'AE',
  'CE',
  'AR',
  'CR',
  'timeout',
  'connection-error',
  'invalid-ack',
  'not-sent',
];

/** The least a message needs for the sender; GeneratedMessage has all of it. */
export interface OutboundMessage {
  readonly seq: number;
  readonly controlId: string;
  readonly bytes: Uint8Array;
  /** false: send through a raw connection (MllpClient only sends what it can parse). */
  readonly parseable: boolean;
  readonly dependsOn?: string;
  readonly expectedAck?: AckCode;
}

export interface SendRecord<M extends OutboundMessage = OutboundMessage> {
  message: M;
  outcome: AckOutcome;
  /** outcome === message.expectedAck; undefined when the message states no expectation. */
  asExpected: boolean | undefined;
  /** Wall clock (epoch ms) when the frame was handed to the connection. */
  sentAt: number;
  /** How late the send was against its schedule (ms; 0 when unpaced). */
  lagMs: number;
  /** From handing the frame over to the answer (or the failure), ms. */
  latencyMs: number;
  attempts: number;
  /** Connection index, 0-based. */
  connection: number;
  /** The peer's error text (MSA-3/ERR) or the failure's reason. */
  errorText?: string;
}

export interface LisSenderOptions<M extends OutboundMessage> {
  host: string;
  port: number;
  /** The next message to send; undefined ends the run (a finite list). */
  source: () => M | undefined;
  /** Messages per second; undefined, 0 or Infinity: as fast as the receiver answers. */
  rate?: number;
  /** Stop after this many messages. */
  count?: number;
  /** Stop scheduling after this long (ms); messages in flight are still awaited. */
  durationMs?: number;
  /** Concurrent MLLP connections; default 1. */
  connections?: number;
  /** Default 30 s. */
  ackTimeoutMs?: number;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /** Attempts per parseable message (MllpClient resends on AE/CE, timeout, drop); default 1. */
  maxAttempts?: number;
  /** Keep every SendRecord for the report (default true). */
  keepRecords?: boolean;
  /** Called with each record as the answer arrives. Must not throw. */
  onRecord?: (record: SendRecord<M>) => void;
  logger?: MllpLogger;
  hooks?: MllpMetricsHooks;
  /** Stops scheduling new messages; those in flight are awaited. */
  signal?: AbortSignal;
}

export interface LisSendProgress {
  elapsedSeconds: number;
  dispatched: number;
  settled: number;
  inFlight: number;
  counts: Record<AckOutcome, number>;
  /** Messages whose outcome differs from their expectedAck. */
  unexpected: number;
}

export interface LisSendReport<M extends OutboundMessage = OutboundMessage> {
  /** msg/s asked for; undefined when unpaced. */
  offeredRate: number | undefined;
  connections: number;
  /** Messages handed to a connection. */
  sent: number;
  /** Messages that got any ACK frame (positive or negative). */
  answered: number;
  counts: Record<AckOutcome, number>;
  unexpected: number;
  /** Latency of the answered messages, ms. */
  latencyMs: LatencySummary;
  /** How late sends were against their schedule, ms. */
  lagMs: LatencySummary;
  /** From the first send to the last answer, s. */
  durationSeconds: number;
  /** answered / durationSeconds. */
  achievedRate: number;
  /** acknowledged positively (AA/CA) / durationSeconds. */
  acceptedRate: number;
  startedAt: number;
  finishedAt: number;
  /** The run was stopped by its signal before its count or duration. */
  stoppedEarly: boolean;
  records: SendRecord<M>[];
}

interface Lane {
  index: number;
  /** Replaced after an ACK timeout (see send()). */
  client: MllpClient;
  raw: RawMllpConnection;
}

/** Answers kept for dependencies; older dependencies are long settled. */
const SETTLED_LIMIT = 50_000;

export function emptyOutcomeCounts(): Record<AckOutcome, number> {
  return Object.fromEntries(ACK_OUTCOMES.map((o) => [o, 0])) as Record<AckOutcome, number>;
}

export class LisSender<M extends OutboundMessage = OutboundMessage> {
  private readonly lanes: Lane[];
  private readonly free: Lane[];
  private readonly waiting: ((lane: Lane) => void)[] = [];
  private readonly settledById = new Map<string, Promise<void>>();
  /** Clients replaced after a timeout, still closing. */
  private readonly closing: Promise<void>[] = [];
  private readonly counts = emptyOutcomeCounts();
  private readonly records: SendRecord<M>[] = [];
  private readonly latencies: number[] = [];
  private readonly lags: number[] = [];
  private readonly rate: number | undefined;
  private readonly ackTimeoutMs: number;
  private startedPerf = 0;
  private dispatched = 0;
  private settled = 0;
  private unexpected = 0;
  private running = false;

  constructor(private readonly options: LisSenderOptions<M>) {
    const connections = options.connections ?? 1;
    if (!Number.isInteger(connections) || connections < 1) {
      throw new RangeError(`connections must be a positive integer, got ${connections}`);
    }
    if (options.rate !== undefined && !(options.rate >= 0)) {
      throw new RangeError(`rate must be ≥ 0 msg/s, got ${options.rate}`);
    }
    if (options.count !== undefined && !(Number.isInteger(options.count) && options.count >= 0)) {
      throw new RangeError(`count must be a non-negative integer, got ${options.count}`);
    }
    if (options.durationMs !== undefined && !(options.durationMs > 0)) {
      throw new RangeError(`duration must be positive, got ${options.durationMs} ms`);
    }
    this.rate =
      options.rate === undefined || options.rate === 0 || options.rate === Infinity
        ? undefined
        : options.rate;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.lanes = Array.from({ length: connections }, (_, index) => ({
      index,
      client: this.newClient(),
      raw: new RawMllpConnection({
        host: options.host,
        port: options.port,
        connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      }),
    }));
    this.free = [...this.lanes];
  }

  private newClient(): MllpClient {
    const { options } = this;
    return new MllpClient({
      host: options.host,
      port: options.port,
      ackTimeoutMs: this.ackTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      retry: { maxAttempts: options.maxAttempts ?? 1 },
      // v2.3 traffic is Latin-1 with MSH-18 8859/1; ACKs without MSH-18 may be too
      fallbackCharset: 'latin1',
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.hooks ? { hooks: options.hooks } : {}),
    });
  }

  /** Counts so far, for progress output while `run()` is going. */
  progress(): LisSendProgress {
    return {
      elapsedSeconds: this.running ? (performance.now() - this.startedPerf) / 1000 : 0,
      dispatched: this.dispatched,
      settled: this.settled,
      inFlight: this.dispatched - this.settled,
      counts: { ...this.counts },
      unexpected: this.unexpected,
    };
  }

  /** Sends until the count, the duration, the source or the signal ends it; then closes. */
  async run(): Promise<LisSendReport<M>> {
    if (this.running || this.startedPerf > 0) throw new Error('LisSender.run() can be called once');
    this.running = true;
    const { count, durationMs, signal } = this.options;
    const interval = this.rate === undefined ? 0 : 1000 / this.rate;
    const startedAt = Date.now();
    this.startedPerf = performance.now();
    const inFlight = new Set<Promise<void>>();
    let stoppedEarly = false;
    try {
      for (let i = 0; ; i++) {
        if (count !== undefined && i >= count) break;
        const due = this.startedPerf + i * interval;
        if (durationMs !== undefined) {
          const at = this.rate === undefined ? performance.now() : due;
          if (at - this.startedPerf >= durationMs) break;
        }
        if (signal?.aborted) {
          stoppedEarly = true;
          break;
        }
        if (this.rate !== undefined) await sleepUntil(due, signal);
        const lane = await this.acquire();
        if (signal?.aborted) {
          this.release(lane);
          stoppedEarly = true;
          break;
        }
        const message = this.options.source();
        if (!message) {
          this.release(lane);
          break;
        }
        const dependency = message.dependsOn ? this.settledById.get(message.dependsOn) : undefined;
        if (dependency) await dependency;
        const sending = this.send(lane, message, this.rate === undefined ? undefined : due);
        const done = sending.finally(() => {
          this.release(lane);
          inFlight.delete(done);
        });
        inFlight.add(done);
        if (!this.settledById.has(message.controlId)) {
          this.settledById.set(message.controlId, done);
          if (this.settledById.size > SETTLED_LIMIT) {
            const oldest = this.settledById.keys().next().value;
            if (oldest !== undefined) this.settledById.delete(oldest);
          }
        }
      }
      await Promise.all(inFlight);
    } finally {
      await Promise.all([
        ...this.lanes.flatMap((l) => [l.client.close(), l.raw.close()]),
        ...this.closing,
      ]);
      this.running = false;
    }
    const finishedAt = Date.now();
    const durationSeconds = Math.max((finishedAt - startedAt) / 1000, 1e-3);
    const answered =
      this.counts.AA +
      this.counts.CA +
      this.counts.AE +
      this.counts.CE +
      this.counts.AR +
      this.counts.CR;
    return {
      offeredRate: this.rate,
      connections: this.lanes.length,
      sent: this.dispatched,
      answered,
      counts: { ...this.counts },
      unexpected: this.unexpected,
      latencyMs: summarizeLatencies(this.latencies),
      lagMs: summarizeLatencies(this.lags),
      durationSeconds,
      achievedRate: answered / durationSeconds,
      acceptedRate: (this.counts.AA + this.counts.CA) / durationSeconds,
      startedAt,
      finishedAt,
      stoppedEarly,
      records: this.records,
    };
  }

  private async send(lane: Lane, message: M, due: number | undefined): Promise<void> {
    this.dispatched += 1;
    const sentAt = Date.now();
    const started = performance.now();
    const lagMs = due === undefined ? 0 : Math.max(0, started - due);
    let outcome: AckOutcome;
    let attempts = 1;
    let errorText: string | undefined;
    if (message.parseable) {
      try {
        const result = await lane.client.send(message.bytes, { ackTimeoutMs: this.ackTimeoutMs });
        outcome = result.code;
        attempts = result.attempts;
      } catch (error) {
        ({ outcome, errorText } = classify(error));
        if (error instanceof Error && 'attempts' in error && typeof error.attempts === 'number') {
          attempts = error.attempts;
        }
      }
    } else {
      const result = await lane.raw.send(message.bytes, this.ackTimeoutMs);
      switch (result.type) {
        case 'ack':
          if (isAckCode(result.code)) {
            outcome = result.code;
            const text = result.ack.get('MSA-3') ?? result.ack.get('ERR-8');
            if (text) errorText = text;
          } else {
            outcome = 'invalid-ack';
            errorText = `MSA-1 is ${JSON.stringify(result.code)}`;
          }
          break;
        case 'invalid-ack':
          outcome = 'invalid-ack';
          errorText = result.reason;
          break;
        case 'timeout':
          outcome = 'timeout';
          errorText = `no answer within ${this.ackTimeoutMs} ms`;
          break;
        case 'connection-error':
          outcome = 'connection-error';
          errorText = result.reason;
          break;
      }
    }
    const latencyMs = performance.now() - started;
    if (outcome === 'timeout' && message.parseable) {
      // MllpClient destroys the socket after an ACK timeout but marks it closed only on its
      // 'close' event, after the current turn of the event loop: a send in between is written
      // into the dead socket and fails as a connection error. A fresh client for the lane
      // starts on a fresh connection, as a LIS reconnects after a timeout.
      const old = lane.client;
      lane.client = this.newClient();
      this.closing.push(old.close());
    }
    const asExpected =
      message.expectedAck === undefined ? undefined : outcome === message.expectedAck;
    this.counts[outcome] += 1;
    this.settled += 1;
    if (asExpected === false) {
      this.unexpected += 1;
      this.options.logger?.warn(
        {
          controlId: message.controlId,
          seq: message.seq,
          outcome,
          expected: message.expectedAck,
          ...(errorText ? { errorText } : {}),
        },
        'simulated LIS message not answered as expected',
      );
    }
    if (isAckCode(outcome)) this.latencies.push(latencyMs);
    this.lags.push(lagMs);
    const record: SendRecord<M> = {
      message,
      outcome,
      asExpected,
      sentAt,
      lagMs,
      latencyMs,
      attempts,
      connection: lane.index,
      ...(errorText ? { errorText } : {}),
    };
    if (this.options.keepRecords !== false) this.records.push(record);
    this.options.onRecord?.(record);
  }

  private acquire(): Promise<Lane> {
    const lane = this.free.pop();
    if (lane) return Promise.resolve(lane);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(lane: Lane): void {
    const next = this.waiting.shift();
    if (next) next(lane);
    else this.free.push(lane);
  }
}

/** Runs a sender to completion: `new LisSender(options).run()`. */
export function sendLisTraffic<M extends OutboundMessage>(
  options: LisSenderOptions<M>,
): Promise<LisSendReport<M>> {
  return new LisSender(options).run();
}

function isAckCode(code: string): code is AckCode {
  return ['AA', 'AE', 'AR', 'CA', 'CE', 'CR'].includes(code);
}

function classify(error: unknown): { outcome: AckOutcome; errorText: string } {
  if (error instanceof MllpNackError) {
    return {
      outcome: isAckCode(error.ackCode) ? error.ackCode : 'invalid-ack',
      errorText: error.errorText,
    };
  }
  if (error instanceof MllpTimeoutError) return { outcome: 'timeout', errorText: error.message };
  if (error instanceof MllpConnectionError) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return { outcome: 'connection-error', errorText: `${error.message}${cause}` };
  }
  return {
    outcome: 'not-sent',
    errorText: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  };
}

/** Resolves at `due` (performance.now() time), at once if that is past or the signal aborts. */
function sleepUntil(due: number, signal: AbortSignal | undefined): Promise<void> {
  const wait = due - performance.now();
  if (wait <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, wait);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
