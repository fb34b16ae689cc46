/**
 * The seams through which the app observes MLLP traffic: a minimal logger (pino's Logger fits
 * it; the lib never writes to the console) and metric hooks the app wires to Prometheus. Both
 * default to no-ops, and a hook that throws is ignored: observing must never cost a message.
 */
import type { AckCode } from '@ancillary/hl7-core';

export interface MllpLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
  debug?(obj: Record<string, unknown>, msg: string): void;
}

export const noopLogger: MllpLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Why something went wrong, as a low-cardinality metric label. */
export type MllpErrorKind =
  /** A frame grew past maxFrameBytes. */
  | 'oversize'
  /** Bytes that break block framing (end block without CR, a frame cut short). */
  | 'framing'
  /** Bytes outside any frame were discarded. */
  | 'junk'
  /** A frame that does not parse as HL7 v2 (answered AR / CR). */
  | 'parse'
  /** The server's handler failed or rejected the message (answered AE/CE or AR/CR). */
  | 'handler'
  /** The server's handler did not settle in time (answered AE / CE). */
  | 'handler-timeout'
  /** A connection error: reset, refused, dropped. */
  | 'socket'
  /** TLS handshake failed. */
  | 'tls'
  /** A quiet connection was closed by the idle timeout. */
  | 'idle-timeout'
  /** The client got no ACK in time. */
  | 'ack-timeout'
  /** The client got a negative ACK. */
  | 'nack'
  /** The client got an ACK for another control id (a late ACK of an earlier message). */
  | 'unexpected-ack'
  /** The server could not write an ACK because the connection had gone. */
  | 'ack-undelivered';

export type MllpConnectionEvent = 'open' | 'close' | 'refused';

export interface MllpMetricsHooks {
  onConnection?(event: MllpConnectionEvent): void;
  /** A complete frame was received; its payload size in bytes. */
  onFrameIn?(bytes: number): void;
  /** A frame was written; its payload size in bytes. */
  onFrameOut?(bytes: number): void;
  onError?(kind: MllpErrorKind): void;
  /**
   * Server: from the frame's arrival to its ACK being written. Client: from the frame being
   * written to its ACK arriving.
   */
  onAckLatency?(seconds: number, code: AckCode): void;
  /** Client only: a message is about to be written again (attempt ≥ 2). */
  onRetry?(attempt: number, reason: MllpErrorKind): void;
}

/** Calls a hook, swallowing whatever it throws. */
export function callHook<K extends keyof MllpMetricsHooks>(
  hooks: MllpMetricsHooks,
  name: K,
  ...args: Parameters<NonNullable<MllpMetricsHooks[K]>>
): void {
  const hook = hooks[name] as ((...a: typeof args) => void) | undefined;
  if (!hook) return;
  try {
    hook.apply(hooks, args);
  } catch {
    // a metrics bug must not disturb the traffic it measures
  }
}

/** The error's class and message for a log line, without the stack's noise. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    return { errorClass: error.name, errorMessage: error.message };
  }
  return { errorClass: typeof error, errorMessage: String(error) };
}
