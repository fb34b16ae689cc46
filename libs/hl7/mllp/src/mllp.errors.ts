/**
 * Typed MLLP errors that say whether to retry, like the platform's other errors
 * (kafkajs' KafkaJSError.retriable; @ancillary/messaging-kafka's PlatformError). This lib is a
 * pure leaf and cannot import the messaging lib, so it carries its own small base class with
 * the same shape: `retriable` and a stable `code` for metrics and dead-letter headers.
 */
import type { AckCode, AckError, Hl7Message } from '@ancillary/hl7-core';

export abstract class MllpError extends Error {
  abstract readonly retriable: boolean;
  /** A short stable code for metrics and logs, e.g. MLLP_TIMEOUT. */
  abstract readonly code: string;
  /** Set by MllpClient.send() on the error it finally rejects with: how many times it wrote the frame. */
  attempts?: number;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No ACK arrived in time. The message may or may not have been stored: resend the same bytes. */
export class MllpTimeoutError extends MllpError {
  readonly retriable = true;
  readonly code = 'MLLP_TIMEOUT';

  constructor(
    readonly controlId: string,
    readonly timeoutMs: number,
  ) {
    super(`no ACK for control id ${controlId} within ${timeoutMs} ms`);
  }
}

/** The peer could not be reached, or the connection dropped before the ACK arrived. */
export class MllpConnectionError extends MllpError {
  readonly retriable = true;
  readonly code = 'MLLP_CONNECTION';
}

/**
 * The peer answered with a negative acknowledgement. AE/CE ("error, try again") are retriable,
 * AR/CR ("rejected, do not resend as it is") are not.
 * See HL7 v2.5.1 ch. 2, 2.9.2 (original mode) and 2.9.3 (enhanced mode), table 0008.
 */
export class MllpNackError extends MllpError {
  readonly code = 'MLLP_NACK';
  readonly retriable: boolean;

  constructor(
    readonly ackCode: AckCode,
    readonly ack: Hl7Message,
    /** MSA-3 and the ERR segments' text, as the peer wrote them; empty when it gave none. */
    readonly errorText: string,
  ) {
    super(`peer answered ${ackCode}${errorText ? `: ${errorText}` : ''}`);
    this.retriable = ackCode === 'AE' || ackCode === 'CE';
  }
}

/** A frame grew past maxFrameBytes; it is refused and the connection closed. */
export class MllpFrameTooLargeError extends MllpError {
  readonly retriable = false;
  readonly code = 'MLLP_FRAME_TOO_LARGE';

  constructor(
    readonly maxFrameBytes: number,
    readonly receivedBytes: number,
  ) {
    super(`MLLP frame exceeds the limit of ${maxFrameBytes} bytes (${receivedBytes} bytes so far)`);
  }
}

/** Bytes that break MLLP block framing (e.g. an end block 0x1C not followed by CR 0x0D). */
export class MllpFramingError extends MllpError {
  readonly retriable = false;
  readonly code = 'MLLP_FRAMING';
}

/**
 * Thrown by a server handler to reject a message for its content (answered AR / CR): the
 * sender must not resend it as it is. Any other error whose `retriable` is `false`
 * (Hl7ParseError, the platform's PermanentError) is treated the same way.
 */
export class MllpRejectError extends MllpError {
  readonly retriable = false;
  readonly code = 'MLLP_REJECTED';

  constructor(
    message: string,
    readonly errors: AckError[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A message the client cannot send: unparseable, no control id, or unframeable bytes. */
export class MllpInvalidMessageError extends MllpError {
  readonly retriable = false;
  readonly code = 'MLLP_INVALID_MESSAGE';
}

/** The client was closed before the message could be sent or acknowledged. */
export class MllpClientClosedError extends MllpError {
  readonly retriable = true;
  readonly code = 'MLLP_CLIENT_CLOSED';
}
