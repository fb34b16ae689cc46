/**
 * The MLLP sender every outbound flow uses (orders to the LIS/RIS, DFT^P03 to billing).
 *
 * - One persistent connection, opened when there is something to send and reopened after a drop.
 * - One message in flight at a time; the rest wait in FIFO order (MLLP is request/response).
 * - A message is written again only when its ACK may have been lost (ACK timeout, connection drop
 *   after the write) or the peer answered AE/CE, and then with the SAME bytes and control id, so
 *   an idempotent receiver sees one message (the Mirth #1314 / #4126 lesson). AR/CR is final.
 * - After an ACK timeout the connection is closed and reopened before the resend: a late ACK on the
 *   old connection can then never be mistaken for the answer to anything else, and a half-dead
 *   connection is not written into again.
 * - Retries are bounded, with exponential backoff and full jitter; the last error is typed and
 *   says whether the caller may try again later (`retriable`).
 */
import { ackModeOf, Hl7Message, type AckCode, type FallbackCharset } from '@ancillary/hl7-core';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import * as tls from 'node:tls';
import {
  MllpClientClosedError,
  MllpConnectionError,
  MllpError,
  MllpInvalidMessageError,
  MllpNackError,
  MllpTimeoutError,
} from './mllp.errors';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, MllpDecoder, toBuffer } from './mllp.framer';
import { backoffDelayMs, validateRetryPolicy, type RetryPolicy } from '@ancillary/retry';
import {
  callHook,
  errorFields,
  noopLogger,
  type MllpErrorKind,
  type MllpLogger,
  type MllpMetricsHooks,
} from './mllp.observability';

export const DEFAULT_MLLP_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  multiplier: 2,
};

export interface MllpClientOptions {
  host: string;
  port: number;
  /** Connect over TLS with these node:tls options (ca, cert, key, servername, …). */
  tls?: tls.ConnectionOptions;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /** How long to wait for the ACK of one attempt; default 30 s. */
  ackTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Largest ACK frame accepted; default 1 MiB. */
  maxFrameBytes?: number;
  /** For decoding ACKs, and messages given as bytes, without MSH-18 that are not valid UTF-8. */
  fallbackCharset?: FallbackCharset;
  hooks?: MllpMetricsHooks;
  logger?: MllpLogger;
  /** Source of randomness for the jitter (tests). */
  random?: () => number;
}

export interface MllpSendOptions {
  ackTimeoutMs?: number;
  maxAttempts?: number;
}

export interface MllpSendResult {
  ack: Hl7Message;
  /** AA or CA: anything else rejects the promise. */
  code: AckCode;
  /** Attempts it took, the successful one included (connection failures count too). */
  attempts: number;
  /** From writing the frame to its ACK, for the successful attempt. */
  latencyMs: number;
  /** From send() to now: queueing, retries and backoff included. */
  totalMs: number;
}

interface Job {
  payload: Buffer;
  frame: Buffer;
  controlId: string;
  ackTimeoutMs: number;
  maxAttempts: number;
  submittedAt: number;
  resolve: (result: MllpSendResult) => void;
  reject: (error: MllpError) => void;
}

interface Connection {
  socket: net.Socket;
  decoder: MllpDecoder;
  closed: boolean;
  /** Settles the attempt awaiting an ACK on this connection. */
  waiter?: { controlId: string; settle: (outcome: AttemptOutcome) => void };
}

type AttemptOutcome =
  { type: 'ack'; ack: Hl7Message } | { type: 'failed'; error: MllpError; kind: MllpErrorKind };

export class MllpClient {
  private readonly logger: MllpLogger;
  private readonly hooks: MllpMetricsHooks;
  private readonly retry: RetryPolicy;
  private readonly connectTimeoutMs: number;
  private readonly ackTimeoutMs: number;
  private readonly random: () => number;
  private readonly target: Record<string, unknown>;
  private readonly queue: Job[] = [];
  private connection: Connection | undefined;
  private pumping: Promise<void> | undefined;
  private closed = false;
  private readonly closing = new AbortController();

  constructor(private readonly options: MllpClientOptions) {
    this.logger = options.logger ?? noopLogger;
    this.hooks = options.hooks ?? {};
    this.retry = validateRetryPolicy({ ...DEFAULT_MLLP_RETRY_POLICY, ...options.retry });
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.random = options.random ?? Math.random;
    this.target = { host: options.host, port: options.port, tls: Boolean(options.tls) };
  }

  /** Messages waiting to be sent, the one in flight included. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Sends one message and resolves with its AA/CA. Rejects with MllpNackError (AR/CR at once;
   * AE/CE once the attempts are spent), MllpTimeoutError or MllpConnectionError (attempts spent),
   * MllpInvalidMessageError (nothing sent), MllpClientClosedError.
   */
  send(
    message: Hl7Message | Uint8Array | string,
    options: MllpSendOptions = {},
  ): Promise<MllpSendResult> {
    if (this.closed) {
      return Promise.reject(new MllpClientClosedError('MLLP client is closed'));
    }
    let prepared: { payload: Buffer; controlId: string; frame: Buffer };
    try {
      prepared = this.prepare(message);
    } catch (error) {
      return Promise.reject(
        error instanceof MllpError
          ? error
          : new MllpInvalidMessageError(
              `message cannot be sent: ${error instanceof Error ? error.message : String(error)}`,
              { cause: error },
            ),
      );
    }
    const maxAttempts = options.maxAttempts ?? this.retry.maxAttempts;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      return Promise.reject(new RangeError('maxAttempts must be an integer ≥ 1'));
    }
    return new Promise<MllpSendResult>((resolve, reject) => {
      this.queue.push({
        ...prepared,
        ackTimeoutMs: options.ackTimeoutMs ?? this.ackTimeoutMs,
        maxAttempts,
        submittedAt: performance.now(),
        resolve,
        reject,
      });
      this.pumping ??= this.pump();
    });
  }

  /**
   * Stops the client: new sends are refused, queued messages are rejected with
   * MllpClientClosedError (they were never written), the message in flight gets its current
   * attempt's answer (or timeout) but no further attempt, and the connection is closed.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.closing.abort();
      for (const job of this.queue.splice(1)) {
        job.reject(new MllpClientClosedError('MLLP client closed before the message was sent'));
      }
    }
    await this.pumping;
    const connection = this.connection;
    if (connection && !connection.closed) {
      await new Promise<void>((resolve) => {
        connection.socket.once('close', () => {
          resolve();
        });
        connection.socket.end(() => connection.socket.destroy());
      });
    }
  }

  private prepare(message: Hl7Message | Uint8Array | string): {
    payload: Buffer;
    controlId: string;
    frame: Buffer;
  } {
    let parsed: Hl7Message;
    let payload: Buffer;
    if (message instanceof Hl7Message) {
      parsed = message;
      payload = toBuffer(message.toBytes());
    } else if (typeof message === 'string') {
      parsed = Hl7Message.parse(message);
      payload = toBuffer(parsed.toBytes());
    } else {
      // bytes are sent exactly as given; parsing only finds the control id
      payload = Buffer.from(message);
      parsed = Hl7Message.parse(payload, { fallbackCharset: this.options.fallbackCharset });
    }
    const controlId = parsed.controlId;
    if (!controlId) {
      throw new MllpInvalidMessageError(
        'message has no control id (MSH-10): its ACK could not be matched',
      );
    }
    const mode = ackModeOf(parsed);
    if (mode.enhanced && (mode.accept === 'NE' || mode.accept === 'ER')) {
      throw new MllpInvalidMessageError(
        `MSH-15 is ${mode.accept}: the receiver would not acknowledge every message, and the client needs an ACK to know it was stored`,
      );
    }
    return { payload, controlId, frame: encodeFrame(payload) };
  }

  private async pump(): Promise<void> {
    try {
      for (let job = this.queue[0]; job; job = this.queue[0]) {
        await this.deliver(job);
        this.queue.shift();
      }
    } finally {
      this.pumping = undefined;
    }
  }

  /** Attempts one message until it is acknowledged, finally refused, or out of attempts. */
  private async deliver(job: Job): Promise<void> {
    const log = { ...this.target, controlId: job.controlId };
    let lastError: MllpError = new MllpClientClosedError('MLLP client closed before sending');
    let attempt = 0;
    while (attempt < job.maxAttempts) {
      if (this.closed && attempt > 0) break;
      attempt += 1;
      if (attempt > 1) {
        callHook(this.hooks, 'onRetry', attempt, kindOf(lastError));
        this.logger.warn(
          { ...log, attempt, maxAttempts: job.maxAttempts, ...errorFields(lastError) },
          'MLLP resending the same message',
        );
      }
      const outcome = await this.attempt(job);
      if (outcome.type === 'ack') {
        const { ack, latencyMs } = outcome;
        const code = (ack.get('MSA-1') ?? '').toUpperCase() as AckCode;
        callHook(this.hooks, 'onAckLatency', latencyMs / 1000, code);
        if (code === 'AA' || code === 'CA') {
          job.resolve({
            ack,
            code,
            attempts: attempt,
            latencyMs,
            totalMs: performance.now() - job.submittedAt,
          });
          return;
        }
        callHook(this.hooks, 'onError', 'nack');
        const nack = new MllpNackError(code, ack, errorTextOf(ack));
        this.logger.warn(
          { ...log, attempt, ackCode: code, errorText: nack.errorText },
          'MLLP NACK',
        );
        lastError = nack;
        if (!nack.retriable) break;
      } else {
        callHook(this.hooks, 'onError', outcome.kind);
        lastError = outcome.error;
      }
      if (attempt < job.maxAttempts && !this.closed) {
        const delay = backoffDelayMs(this.retry, attempt, this.random);
        if (!(await sleep(delay, this.closing.signal))) break;
      }
    }
    lastError.attempts = attempt;
    this.logger.error(
      { ...log, attempts: attempt, ...errorFields(lastError) },
      'MLLP message not acknowledged',
    );
    job.reject(lastError);
  }

  /** One attempt: connect if needed, write, await the matching ACK. Never throws. */
  private async attempt(
    job: Job,
  ): Promise<
    | { type: 'ack'; ack: Hl7Message; latencyMs: number }
    | { type: 'failed'; error: MllpError; kind: MllpErrorKind }
  > {
    let connection: Connection;
    try {
      connection = await this.connect();
    } catch (error) {
      return {
        type: 'failed',
        kind: 'socket',
        error:
          error instanceof MllpError
            ? error
            : new MllpConnectionError('MLLP connect failed', { cause: error }),
      };
    }

    const answered = new Promise<AttemptOutcome>((resolve) => {
      connection.waiter = { controlId: job.controlId, settle: resolve };
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<AttemptOutcome>((resolve) => {
      timer = setTimeout(() => {
        resolve({
          type: 'failed',
          kind: 'ack-timeout',
          error: new MllpTimeoutError(job.controlId, job.ackTimeoutMs),
        });
      }, job.ackTimeoutMs);
    });
    const writtenAt = performance.now();
    connection.socket.write(job.frame);
    callHook(this.hooks, 'onFrameOut', job.payload.length);
    const outcome = await Promise.race([answered, timedOut]);
    clearTimeout(timer);
    connection.waiter = undefined;
    if (outcome.type === 'ack') {
      return { type: 'ack', ack: outcome.ack, latencyMs: performance.now() - writtenAt };
    }
    if (outcome.kind === 'ack-timeout') {
      // a late ACK must not be read as the answer to a later write: start over on a new connection
      this.logger.warn(
        { ...this.target, controlId: job.controlId, ackTimeoutMs: job.ackTimeoutMs },
        'MLLP ACK timeout: closing the connection before resending',
      );
      // Forget it now: 'close' fires a turn later, and the resend must not pick up this socket.
      connection.closed = true;
      if (this.connection === connection) this.connection = undefined;
      connection.socket.destroy();
    }
    return outcome;
  }

  private async connect(): Promise<Connection> {
    if (this.connection && !this.connection.closed) return this.connection;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const connectOptions = { host: this.options.host, port: this.options.port };
      const s = this.options.tls
        ? tls.connect({ ...this.options.tls, ...connectOptions })
        : net.connect(connectOptions);
      const ready = this.options.tls ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => {
        s.destroy();
        reject(new MllpConnectionError(`MLLP connect timed out after ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);
      const onError = (error: Error): void => {
        clearTimeout(timer);
        s.destroy();
        reject(new MllpConnectionError(`MLLP connect failed: ${error.message}`, { cause: error }));
      };
      s.once('error', onError);
      s.once(ready, () => {
        clearTimeout(timer);
        s.off('error', onError);
        resolve(s);
      });
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);

    const connection: Connection = {
      socket,
      decoder: new MllpDecoder({
        maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      }),
      closed: false,
    };
    const drop = (error: MllpError): void => {
      const waiter = connection.waiter;
      connection.waiter = undefined;
      waiter?.settle({ type: 'failed', kind: 'socket', error });
    };
    connection.decoder.on('frame', (frame) => {
      this.onFrame(connection, frame);
    });
    connection.decoder.on('frameError', (info) => {
      this.logger.warn(
        { ...this.target, reason: info.reason, ...errorFields(info.error) },
        'MLLP framing error in a reply: dropping the connection',
      );
      callHook(this.hooks, 'onError', info.reason === 'oversize' ? 'oversize' : 'framing');
      socket.destroy();
    });
    connection.decoder.on('junk', () => {
      callHook(this.hooks, 'onError', 'junk');
    });
    socket.on('data', (chunk: Buffer) => {
      connection.decoder.push(chunk);
    });
    socket.on('end', () => {
      connection.decoder.end();
    });
    socket.on('error', (error) => {
      this.logger.warn({ ...this.target, ...errorFields(error) }, 'MLLP client connection error');
    });
    socket.on('close', () => {
      connection.closed = true;
      if (this.connection === connection) this.connection = undefined;
      callHook(this.hooks, 'onConnection', 'close');
      drop(new MllpConnectionError('MLLP connection closed before the ACK arrived'));
    });
    this.connection = connection;
    callHook(this.hooks, 'onConnection', 'open');
    this.logger.info(this.target, 'MLLP client connected');
    return connection;
  }

  private onFrame(connection: Connection, frame: Buffer): void {
    callHook(this.hooks, 'onFrameIn', frame.length);
    let ack: Hl7Message;
    try {
      ack = Hl7Message.parse(frame, { fallbackCharset: this.options.fallbackCharset });
    } catch (error) {
      callHook(this.hooks, 'onError', 'parse');
      this.logger.warn(
        { ...this.target, bytes: frame.length, ...errorFields(error) },
        'MLLP reply is not parseable HL7: ignored',
      );
      return;
    }
    const controlId = ack.get('MSA-2');
    const waiter = connection.waiter;
    if (!waiter || controlId !== waiter.controlId) {
      callHook(this.hooks, 'onError', 'unexpected-ack');
      this.logger.warn(
        { ...this.target, ackFor: controlId, awaiting: waiter?.controlId },
        'MLLP reply for a message not in flight: ignored',
      );
      return;
    }
    connection.waiter = undefined;
    waiter.settle({ type: 'ack', ack });
  }
}

/** Resolves true after `ms`, or false at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function kindOf(error: MllpError): MllpErrorKind {
  if (error instanceof MllpTimeoutError) return 'ack-timeout';
  if (error instanceof MllpNackError) return 'nack';
  return 'socket';
}

/** MSA-3 and ERR-8 (user message) or ERR-3 (error code text), as the peer wrote them. */
function errorTextOf(ack: Hl7Message): string {
  const parts = [ack.get('MSA-3')];
  for (const err of ack.segments('ERR')) {
    // v2.5+: ERR-8 user message, else ERR-3.2 code text; v2.3/2.4: ERR-1.4.2
    parts.push(err.get(8) ?? err.get(3, 1, 2) ?? err.get(1, 1, 4, 2));
  }
  return [...new Set(parts.filter((p): p is string => typeof p === 'string' && p.length > 0))].join(
    '; ',
  );
}
