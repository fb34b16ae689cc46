/**
 * The MLLP listener every inbound gateway runs. Its one promise: a sender gets AA / CA only after
 * the handler's promise resolved with an explicit accept — the gateway publishes to Kafka with
 * acks=all inside the handler — so an ACK always means "stored" (the Medplum PR #9346 lesson).
 *
 * Per connection, frames are handled one at a time and answered in arrival order (MLLP is
 * request/response; pipelined frames are queued, and reading pauses while the queue is full).
 * ACK rules, per HL7 v2.5.1 ch. 2, 2.9 (https://www.hl7.eu/HL7v2x/v251/std251/ch02.html#Heading36):
 *
 * | outcome                                            | original mode | enhanced mode |
 * |----------------------------------------------------|---------------|---------------|
 * | handler resolved `accept`                          | AA            | CA            |
 * | handler resolved `error`, threw a retriable error, | AE            | CE            |
 * |   timed out, or returned no decision               |               |               |
 * | handler resolved `reject`, threw MllpRejectError,  | AR            | CR            |
 * |   Hl7ParseError or any error with retriable=false  |               |               |
 * | frame does not parse as HL7 (incl. EB without CR)  | AR (CR if MSH-15/16 could be read)   |
 * | frame larger than maxFrameBytes                    | AR, then the connection is closed    |
 *
 * Enhanced mode (MSH-15 or MSH-16 valued) is answered with the commit (accept) acknowledgment
 * only, and MSH-15 is honoured: NE → no ACK, ER → only CE/CR, SU → only CA.
 */
import {
  ackModeOf,
  ackRequested,
  buildAck,
  buildRejectForUnparseable,
  Hl7Message,
  Hl7ParseError,
  type AckCode,
  type AckError,
  type FallbackCharset,
} from '@ancillary/hl7-core';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import * as tls from 'node:tls';
import { MllpError, MllpRejectError } from './mllp.errors';
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  MllpDecoder,
  type FrameErrorInfo,
  type FrameInfo,
} from './mllp.framer';
import {
  callHook,
  errorFields,
  noopLogger,
  type MllpErrorKind,
  type MllpLogger,
  type MllpMetricsHooks,
} from './mllp.observability';

export interface MllpConnectionInfo {
  /** Unique within this server instance, for logs: `c1`, `c2`, … */
  id: string;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  tls: boolean;
  /** TLS only: whether the client's certificate was verified (with requestCert). */
  authorized?: boolean;
  /** TLS only: the client certificate's subject CN, when it presented one. */
  peerCommonName?: string;
  openedAt: Date;
}

export interface MllpMessageContext {
  /** The frame's exact bytes, without the MLLP envelope: what the gateway stores. */
  raw: Buffer;
  connection: MllpConnectionInfo;
  receivedAt: Date;
  /** 1 for the first frame on this connection, 2 for the next, … */
  sequence: number;
}

/**
 * The handler's decision, mapped to the ACK code of the message's mode:
 * accept → AA / CA, error ("not stored, try again") → AE / CE, reject ("never as it is") → AR / CR.
 */
export type MllpHandlerResult =
  | {
      outcome: 'accept';
      text?: string;
      /**
       * An application acknowledgement to send instead of the generated ACK, e.g. an ORR^O02 /
       * ORL^O22 / RRE^O12 that carries the filler order number in ORC-3 (HL7 v2.5.1 ch. 4.4).
       * Its MSA-2 must echo the message's control id; it is sent as it is.
       */
      response?: Hl7Message;
    }
  | { outcome: 'error'; errors?: AckError[]; text?: string }
  | { outcome: 'reject'; errors?: AckError[]; text?: string };

/** Shorthands for handler results. */
export const MllpResult = {
  accept: (text?: string, response?: Hl7Message): MllpHandlerResult => ({
    outcome: 'accept',
    text,
    ...(response ? { response } : {}),
  }),
  error: (errors: AckError[] = [], text?: string): MllpHandlerResult => ({
    outcome: 'error',
    errors,
    text,
  }),
  reject: (errors: AckError[] = [], text?: string): MllpHandlerResult => ({
    outcome: 'reject',
    errors,
    text,
  }),
} as const;

/**
 * Receives each parsed message and decides its ACK. Only an explicit `accept` is answered AA / CA;
 * resolve it only once the message is durably stored. Throwing is answered AE / CE (AR / CR for
 * errors that say `retriable: false`).
 */
export type MllpHandler = (
  message: Hl7Message,
  context: MllpMessageContext,
) => Promise<MllpHandlerResult> | MllpHandlerResult;

/**
 * Called with a frame that cannot be parsed, before it is answered AR, so the gateway can keep
 * the bytes in a dead letter. If it throws, the frame is answered AE / CE instead, so the sender
 * keeps the message and resends it.
 */
export type MllpUnparseableHandler = (
  raw: Buffer,
  error: Error,
  context: MllpMessageContext,
) => Promise<void> | void;

export interface MllpServerOptions {
  /** Interface to bind; there is no default, so exposing PHI on all interfaces is a choice. */
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  handler: MllpHandler;
  onUnparseable?: MllpUnparseableHandler;
  /** Largest accepted frame; default 1 MiB (see DEFAULT_MAX_FRAME_BYTES). */
  maxFrameBytes?: number;
  /** Answer an oversize frame with AR before closing the connection; default true. */
  rejectOversize?: boolean;
  /**
   * Close a connection that has been silent (no bytes, nothing in flight) this long; 0 disables.
   * Default 5 min: below common load-balancer idle limits (AWS NLB: 350 s), so a quiet connection
   * ends with our FIN instead of being black-holed by a middlebox.
   */
  idleTimeoutMs?: number;
  /** Connections beyond this are refused (closed at once); default 100. */
  maxConnections?: number;
  /**
   * How long a handler may take before the sender is answered AE / CE; 0 disables. Default 30 s.
   * Keep it above the gateway's publish timeout and below the sender's ACK timeout. The late
   * handler is still awaited before the connection's next frame, so order is kept.
   */
  handlerTimeoutMs?: number;
  /** close() waits this long for in-flight handlers before destroying sockets; default 10 s. */
  closeTimeoutMs?: number;
  /** Serve MLLP over TLS (node:tls options: key, cert, ca, requestCert, rejectUnauthorized, …). */
  tls?: tls.TlsOptions;
  /** Charset to decode with when MSH-18 is absent and the bytes are not valid UTF-8. */
  fallbackCharset?: FallbackCharset;
  hooks?: MllpMetricsHooks;
  logger?: MllpLogger;
}

const DEFAULTS = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  idleTimeoutMs: 5 * 60_000,
  maxConnections: 100,
  handlerTimeoutMs: 30_000,
  closeTimeoutMs: 10_000,
} as const;

/** Frames queued on one connection before it stops reading (a sender pipelining far ahead). */
const MAX_QUEUED_FRAMES = 32;

type QueueItem =
  | { kind: 'frame'; raw: Buffer; receivedAt: Date; startedAt: number; info: FrameInfo }
  | { kind: 'frameError'; info: FrameErrorInfo; receivedAt: Date; startedAt: number };

type ResolvedServerOptions = MllpServerOptions &
  Required<
    Pick<
      MllpServerOptions,
      | 'maxFrameBytes'
      | 'idleTimeoutMs'
      | 'maxConnections'
      | 'handlerTimeoutMs'
      | 'closeTimeoutMs'
      | 'rejectOversize'
    >
  >;

export class MllpServer {
  private readonly options: ResolvedServerOptions;
  private readonly logger: MllpLogger;
  private readonly hooks: MllpMetricsHooks;
  private readonly server: net.Server;
  private readonly connections = new Set<ServerConnection>();
  private nextConnectionId = 1;
  private closing: Promise<void> | undefined;

  constructor(options: MllpServerOptions) {
    this.options = {
      ...options,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      maxConnections: options.maxConnections ?? DEFAULTS.maxConnections,
      handlerTimeoutMs: options.handlerTimeoutMs ?? DEFAULTS.handlerTimeoutMs,
      closeTimeoutMs: options.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs,
      rejectOversize: options.rejectOversize ?? true,
    };
    for (const key of ['idleTimeoutMs', 'handlerTimeoutMs', 'closeTimeoutMs'] as const) {
      if (!(this.options[key] >= 0)) throw new RangeError(`${key} must be ≥ 0`);
    }
    if (!Number.isInteger(this.options.maxConnections) || this.options.maxConnections < 1) {
      throw new RangeError('maxConnections must be a positive integer');
    }
    this.logger = options.logger ?? noopLogger;
    this.hooks = options.hooks ?? {};

    // allowHalfOpen: a sender may write its frames and shut down its side; it still gets its ACKs.
    if (options.tls) {
      const server = tls.createServer({ ...options.tls, allowHalfOpen: true });
      server.on('secureConnection', (socket) => {
        this.accept(socket, true);
      });
      server.on('tlsClientError', (error, socket) => {
        this.logger.warn(
          { ...errorFields(error), remoteAddress: socket.remoteAddress },
          'MLLP TLS handshake failed',
        );
        callHook(this.hooks, 'onError', 'tls');
      });
      this.server = server;
    } else {
      this.server = net.createServer({ allowHalfOpen: true }, (socket) => {
        this.accept(socket, false);
      });
    }
    // Node refuses connections past maxConnections before any byte or handshake, and says so.
    this.server.maxConnections = this.options.maxConnections;
    this.server.on('drop', (data?: net.DropArgument) => {
      this.logger.warn(
        {
          remoteAddress: data?.remoteAddress,
          remotePort: data?.remotePort,
          maxConnections: this.options.maxConnections,
        },
        'MLLP connection refused: connection limit reached',
      );
      callHook(this.hooks, 'onConnection', 'refused');
    });
    this.server.on('error', (error) => {
      this.logger.error(errorFields(error), 'MLLP server error');
    });
  }

  /** Starts listening; resolves with the bound address (port 0 → the port picked). */
  listen(): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(error);
      };
      this.server.once('error', onError);
      this.server.listen({ host: this.options.host, port: this.options.port }, () => {
        this.server.off('error', onError);
        const address = this.server.address() as net.AddressInfo;
        this.logger.info(
          { host: address.address, port: address.port, tls: Boolean(this.options.tls) },
          'MLLP server listening',
        );
        resolve(address);
      });
    });
  }

  /** The bound address, once listening. */
  address(): net.AddressInfo | undefined {
    const address = this.server.address();
    return address !== null && typeof address === 'object' ? address : undefined;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Graceful stop: refuse new connections, stop reading, let each connection's in-flight handler
   * finish and its ACK go out, then close. Frames queued but not started are dropped unanswered
   * (the sender resends them). After closeTimeoutMs the remaining sockets are destroyed.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => {
        resolve();
      });
    });
    const drained = Promise.all([...this.connections].map((c) => c.shutdown()));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        resolve('timeout');
      }, this.options.closeTimeoutMs);
    });
    const outcome = await Promise.race([drained, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.warn(
        { connections: this.connections.size, closeTimeoutMs: this.options.closeTimeoutMs },
        'MLLP server close timed out: destroying remaining connections',
      );
      for (const connection of this.connections) connection.destroy();
    }
    await stopped;
    this.logger.info({}, 'MLLP server closed');
  }

  private accept(socket: net.Socket | tls.TLSSocket, secure: boolean): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const id = `c${this.nextConnectionId++}`;
    const info: MllpConnectionInfo = {
      id,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? '',
      localPort: socket.localPort ?? 0,
      tls: secure,
      openedAt: new Date(),
    };
    if (secure && socket instanceof tls.TLSSocket) {
      info.authorized = socket.authorized;
      const certificate = socket.getPeerCertificate() as Partial<tls.PeerCertificate>;
      const cn = certificate.subject?.CN;
      if (cn) info.peerCommonName = Array.isArray(cn) ? cn.join(',') : cn;
    }
    const connection = new ServerConnection(socket, info, this.options, this.logger, this.hooks);
    this.connections.add(connection);
    socket.once('close', () => this.connections.delete(connection));
  }
}

/** One accepted socket: decoder, ordered queue, idle timer, ACK writing. */
class ServerConnection {
  private readonly decoder: MllpDecoder;
  private readonly queue: QueueItem[] = [];
  private readonly log: Record<string, unknown>;
  private processing = false;
  private sequence = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** No more frames will be taken (oversize refusal, shutdown, peer ended). */
  private refusing = false;
  private peerEnded = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: (() => void) | undefined;

  constructor(
    private readonly socket: net.Socket,
    readonly info: MllpConnectionInfo,
    private readonly options: ResolvedServerOptions,
    private readonly logger: MllpLogger,
    private readonly hooks: MllpMetricsHooks,
  ) {
    this.log = {
      connectionId: info.id,
      remoteAddress: info.remoteAddress,
      remotePort: info.remotePort,
    };
    this.decoder = new MllpDecoder({ maxFrameBytes: options.maxFrameBytes });
    this.decoder.on('frame', (raw, frameInfo) => {
      this.onFrame(raw, frameInfo);
    });
    this.decoder.on('frameError', (errorInfo) => {
      this.onFrameError(errorInfo);
    });
    this.decoder.on('junk', (bytes) => {
      this.logger.debug?.({ ...this.log, bytes }, 'MLLP bytes outside a frame discarded');
      callHook(this.hooks, 'onError', 'junk');
    });

    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on('data', (chunk: Buffer) => {
      this.touch();
      try {
        this.decoder.push(chunk);
      } catch (error) {
        this.logger.error({ ...this.log, ...errorFields(error) }, 'MLLP decoder failed');
        this.destroy();
      }
    });
    socket.on('end', () => {
      this.peerEnded = true;
      this.decoder.end();
      this.endIfDone();
    });
    socket.on('error', (error) => {
      this.logger.warn({ ...this.log, ...errorFields(error) }, 'MLLP connection error');
      callHook(this.hooks, 'onError', 'socket');
    });
    socket.on('close', () => {
      this.closed = true;
      this.stopIdleTimer();
      if (this.queue.length > 0) {
        this.logger.warn(
          { ...this.log, unanswered: this.queue.length },
          'MLLP connection closed with frames not yet handled; the sender will resend them',
        );
        this.queue.length = 0;
      }
      this.logger.info(this.log, 'MLLP connection closed');
      callHook(this.hooks, 'onConnection', 'close');
      this.markIdle?.();
    });

    this.logger.info({ ...this.log, tls: info.tls, localPort: info.localPort }, 'MLLP connection');
    callHook(this.hooks, 'onConnection', 'open');
    this.armIdleTimer();
  }

  /** Stop taking frames, finish the one in flight, then close (server shutdown). */
  async shutdown(): Promise<void> {
    this.refusing = true;
    this.socket.pause();
    if (this.queue.length > 0) {
      this.logger.info(
        { ...this.log, dropped: this.queue.length },
        'MLLP server closing: queued frames left unanswered for the sender to resend',
      );
      this.queue.length = 0;
    }
    await this.idle;
    this.end();
    if (!this.closed) {
      await new Promise<void>((resolve) =>
        this.socket.once('close', () => {
          resolve();
        }),
      );
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onFrame(raw: Buffer, frameInfo: FrameInfo): void {
    callHook(this.hooks, 'onFrameIn', raw.length);
    if (this.refusing) return;
    if (frameInfo.missingTrailingCr) {
      this.logger.info(this.log, 'MLLP frame without its final CR accepted at end of stream');
    }
    this.enqueue({
      kind: 'frame',
      raw,
      receivedAt: new Date(),
      startedAt: performance.now(),
      info: frameInfo,
    });
  }

  private onFrameError(errorInfo: FrameErrorInfo): void {
    const oversize = errorInfo.reason === 'oversize';
    const kind: MllpErrorKind = oversize ? 'oversize' : 'framing';
    callHook(this.hooks, 'onError', kind);
    if (this.refusing) return;
    if (oversize) {
      this.logger.warn(
        {
          ...this.log,
          maxFrameBytes: this.options.maxFrameBytes,
          ...errorFields(errorInfo.error),
        },
        'MLLP frame too large: refused, closing the connection',
      );
      // frames before it are still answered, in order; nothing after it is read
      this.refusing = true;
      this.socket.pause();
    } else {
      this.logger.warn(
        { ...this.log, reason: errorInfo.reason, bytes: errorInfo.bytes.length },
        errorInfo.reason === 'missing-cr'
          ? 'MLLP framing error: end block without CR; answering with a reject'
          : 'MLLP framing error: partial block dropped unanswered',
      );
      // an abandoned or truncated block was given up by its sender: nothing to answer
      if (errorInfo.reason !== 'missing-cr') return;
    }
    this.enqueue({
      kind: 'frameError',
      info: errorInfo,
      receivedAt: new Date(),
      startedAt: performance.now(),
    });
  }

  private enqueue(item: QueueItem): void {
    this.queue.push(item);
    if (this.queue.length >= MAX_QUEUED_FRAMES) this.socket.pause();
    if (!this.processing) void this.processQueue();
  }

  private async processQueue(): Promise<void> {
    this.processing = true;
    this.stopIdleTimer();
    this.idle = new Promise((resolve) => (this.markIdle = resolve));
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        if (!this.refusing && this.queue.length < MAX_QUEUED_FRAMES / 2) this.socket.resume();
        try {
          await this.handle(item);
        } catch (error) {
          // handle() answers every outcome itself; this is a bug, and the frame stays unanswered
          this.logger.error({ ...this.log, ...errorFields(error) }, 'MLLP frame handling failed');
        }
        if (this.closed) break;
        if (item.kind === 'frameError' && item.info.reason === 'oversize') {
          this.end();
          break;
        }
        if (this.socket.writableNeedDrain) {
          await new Promise<void>((resolve) => {
            this.socket.once('drain', resolve);
            this.socket.once('close', resolve);
          });
        }
      }
    } finally {
      this.processing = false;
      this.markIdle?.();
      this.armIdleTimer();
      this.endIfDone();
    }
  }

  private async handle(item: QueueItem): Promise<void> {
    const context: MllpMessageContext = {
      raw: item.kind === 'frame' ? item.raw : item.info.bytes,
      connection: this.info,
      receivedAt: item.receivedAt,
      sequence: ++this.sequence,
    };
    if (item.kind === 'frameError') {
      const oversize = item.info.reason === 'oversize';
      if (oversize && !this.options.rejectOversize) return;
      // only the head of an oversize frame was kept: not worth a dead letter, the sender has it all
      await this.answerUnparseable(context, item.info.error, item.startedAt, !oversize);
      return;
    }

    let message: Hl7Message;
    try {
      message = Hl7Message.parse(item.raw, { fallbackCharset: this.options.fallbackCharset });
    } catch (error) {
      callHook(this.hooks, 'onError', 'parse');
      this.logger.warn(
        { ...this.log, sequence: context.sequence, bytes: item.raw.length, ...errorFields(error) },
        'MLLP frame is not parseable HL7: answering with a reject',
      );
      await this.answerUnparseable(context, asError(error), item.startedAt, true);
      return;
    }

    const decision = await this.decide(message, context);
    try {
      this.answer(message, decision, context, item.startedAt);
    } finally {
      // a handler that outlived its timeout was answered AE/CE; the next frame still waits for it
      await decision.late;
    }
  }

  private answer(
    message: Hl7Message,
    decision: Decision,
    context: MllpMessageContext,
    startedAt: number,
  ): void {
    const mode = ackModeOf(message);
    const code = ackCodeFor(decision.outcome, mode.enhanced);
    const log = {
      ...this.log,
      sequence: context.sequence,
      controlId: message.controlId,
      messageType: message.messageType,
      ackCode: code,
    };
    if (!wantsAck(mode, code)) {
      this.logger.info({ ...log, acceptAckType: mode.accept }, 'MLLP ACK not sent (MSH-15)');
      return;
    }
    let ack: Hl7Message;
    try {
      ack =
        decision.response ??
        buildAck(message, code, { errors: decision.errors, text: decision.text });
    } catch (error) {
      // no ACK at all is safe (the sender resends); a wrong one is not
      this.logger.error(
        { ...log, ...errorFields(error) },
        'MLLP ACK could not be built: none sent',
      );
      return;
    }
    this.write(ack, code, startedAt, log);
  }

  /** Runs the handler under the handler timeout; never throws. */
  private async decide(message: Hl7Message, context: MllpMessageContext): Promise<Decision> {
    const log = { ...this.log, sequence: context.sequence, controlId: message.controlId };
    const running = (async () => this.options.handler(message, context))();
    let outcome: Awaited<ReturnType<typeof settle>>;
    const timeoutMs = this.options.handlerTimeoutMs;
    if (timeoutMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => {
          resolve('timeout');
        }, timeoutMs);
      });
      const first = await Promise.race([settle(running), timeout]);
      clearTimeout(timer);
      if (first === 'timeout') {
        callHook(this.hooks, 'onError', 'handler-timeout');
        this.logger.error(
          { ...log, handlerTimeoutMs: timeoutMs },
          'MLLP handler timed out: answering AE/CE; the next frame waits for it to settle',
        );
        // the sender is answered now; the connection's next frame still waits for this one
        const late = running.then(
          (result: Partial<MllpHandlerResult> | undefined) => {
            this.logger.warn({ ...log, outcome: result?.outcome }, 'MLLP late handler settled');
          },
          (error: unknown) => {
            this.logger.warn({ ...log, ...errorFields(error) }, 'MLLP late handler failed');
          },
        );
        return {
          late,
          outcome: 'error',
          errors: [internalError('The message could not be stored in time; please resend it.')],
        };
      }
      outcome = first;
    } else {
      outcome = await settle(running);
    }

    if (outcome.ok) {
      const result = outcome.value as Partial<MllpHandlerResult> | undefined;
      switch (result?.outcome) {
        case 'accept':
          return { outcome: 'accept', text: result.text, response: result.response };
        case 'error':
        case 'reject':
          callHook(this.hooks, 'onError', 'handler');
          this.logger.warn(
            { ...log, outcome: result.outcome, errors: result.errors },
            'MLLP handler declined the message',
          );
          return { outcome: result.outcome, errors: result.errors ?? [], text: result.text };
        case undefined:
          break;
      }
      callHook(this.hooks, 'onError', 'handler');
      this.logger.error(log, 'MLLP handler returned no decision: answering AE/CE, never AA');
      return { outcome: 'error', errors: [internalError('No processing decision was made.')] };
    }

    callHook(this.hooks, 'onError', 'handler');
    const error = outcome.error;
    if (isPermanent(error)) {
      this.logger.warn({ ...log, ...errorFields(error) }, 'MLLP handler rejected the message');
      return { outcome: 'reject', errors: rejectErrorsOf(error) };
    }
    this.logger.error({ ...log, ...errorFields(error) }, 'MLLP handler failed: answering AE/CE');
    return {
      outcome: 'error',
      errors: [internalError('The message could not be stored; please resend it.')],
    };
  }

  private async answerUnparseable(
    context: MllpMessageContext,
    error: Error,
    startedAt: number,
    keep: boolean,
  ): Promise<void> {
    let reject = buildRejectForUnparseable(context.raw, error);
    if (keep && this.options.onUnparseable) {
      try {
        await this.options.onUnparseable(context.raw, error, context);
      } catch (deadLetterError) {
        this.logger.error(
          { ...this.log, sequence: context.sequence, ...errorFields(deadLetterError) },
          'MLLP unparseable frame could not be kept: answering AE/CE so the sender keeps it',
        );
        reject = asRetryable(reject);
      }
    }
    const code = (reject.get('MSA-1') ?? 'AR') as AckCode;
    this.write(reject, code, startedAt, {
      ...this.log,
      sequence: context.sequence,
      controlId: reject.get('MSA-2'),
      ackCode: code,
    });
  }

  private write(
    ack: Hl7Message,
    code: AckCode,
    startedAt: number,
    log: Record<string, unknown>,
  ): void {
    if (this.closed || this.socket.destroyed || !this.socket.writable) {
      callHook(this.hooks, 'onError', 'ack-undelivered');
      this.logger.warn(log, 'MLLP ACK not delivered: the connection is gone');
      return;
    }
    let payload: Uint8Array;
    let frame: Buffer;
    try {
      payload = ack.toBytes();
      frame = encodeFrame(payload);
    } catch (error) {
      // no ACK at all is safe (the sender resends); a wrong or unframeable one is not
      this.logger.error(
        { ...log, ...errorFields(error) },
        'MLLP ACK could not be encoded: none sent',
      );
      return;
    }
    this.socket.write(frame, (error) => {
      if (error) {
        callHook(this.hooks, 'onError', 'ack-undelivered');
        this.logger.warn({ ...log, ...errorFields(error) }, 'MLLP ACK not delivered');
      }
    });
    callHook(this.hooks, 'onFrameOut', payload.length);
    callHook(this.hooks, 'onAckLatency', (performance.now() - startedAt) / 1000, code);
    this.logger.debug?.(log, 'MLLP ACK sent');
  }

  private touch(): void {
    this.idleTimer?.refresh();
  }

  private armIdleTimer(): void {
    if (this.options.idleTimeoutMs === 0 || this.closed || this.processing) return;
    this.stopIdleTimer();
    this.idleTimer = setTimeout(() => {
      this.onIdle();
    }, this.options.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private stopIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private onIdle(): void {
    if (this.processing || this.closed) return;
    this.logger.info(
      { ...this.log, idleTimeoutMs: this.options.idleTimeoutMs, midFrame: this.decoder.inFrame },
      'MLLP connection idle: closing',
    );
    callHook(this.hooks, 'onError', 'idle-timeout');
    this.refusing = true;
    this.end();
  }

  private endIfDone(): void {
    if (this.peerEnded && !this.processing && this.queue.length === 0) this.end();
  }

  /** Half-close our side once everything written has been flushed, then release the socket. */
  private end(): void {
    if (this.closed) return;
    this.stopIdleTimer();
    this.socket.end(() => this.socket.destroy());
  }
}

interface Decision {
  outcome: MllpHandlerResult['outcome'];
  errors?: AckError[];
  text?: string;
  /** The handler's own application acknowledgement (accept only). */
  response?: Hl7Message;
  /** Set when the handler timed out: it settles later. */
  late?: Promise<void>;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

function settle(promise: Promise<unknown>): Promise<Settled> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** AA/AE/AR in original mode, CA/CE/CR in enhanced mode. */
export function ackCodeFor(outcome: MllpHandlerResult['outcome'], enhanced: boolean): AckCode {
  switch (outcome) {
    case 'accept':
      return enhanced ? 'CA' : 'AA';
    case 'error':
      return enhanced ? 'CE' : 'AE';
    case 'reject':
      return enhanced ? 'CR' : 'AR';
  }
}

/** MSH-15 (accept acknowledgment type, HL7 table 0155) in enhanced mode; always in original mode. */
function wantsAck(mode: ReturnType<typeof ackModeOf>, code: AckCode): boolean {
  return !mode.enhanced || ackRequested(mode.accept, code === 'CA');
}

/** An error that says retrying cannot help: answered AR / CR. */
function isPermanent(error: unknown): boolean {
  if (error instanceof Hl7ParseError || error instanceof MllpRejectError) return true;
  if (error instanceof MllpError) return !error.retriable;
  return (
    typeof error === 'object' && error !== null && 'retriable' in error && error.retriable === false
  );
}

function rejectErrorsOf(error: unknown): AckError[] {
  if (error instanceof MllpRejectError && error.errors.length > 0) return error.errors;
  if (error instanceof Hl7ParseError) {
    return [
      {
        hl7ErrorCode: error.hl7ErrorCode,
        segment: error.segment,
        field: error.field,
        severity: 'E',
        text: error.message,
      },
    ];
  }
  // a permanent error describes the content, which is the sender's business
  return [{ hl7ErrorCode: '207', severity: 'E', text: asError(error).message }];
}

/** HL7 table 0357 code 207: application internal error. Details stay in our logs. */
function internalError(text: string): AckError {
  return { hl7ErrorCode: '207', severity: 'E', text };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Turns a reject (AR/CR) into "error, resend" (AE/CE), keeping everything else. */
function asRetryable(reject: Hl7Message): Hl7Message {
  const code = reject.get('MSA-1');
  return reject.set('MSA-1', code === 'CR' ? 'CE' : 'AE');
}
