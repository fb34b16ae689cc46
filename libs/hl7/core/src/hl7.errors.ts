/**
 * Stable codes of {@link Hl7ParseError}, for metrics, dead-letter headers and tests.
 * The HL7 meaning travels separately in `hl7ErrorCode` (table 0357), because several of our
 * codes map to the same HL7 code and an ACK needs the HL7 one.
 */
export type Hl7ParseErrorCode =
  | 'EMPTY'
  | 'TOO_LARGE'
  | 'NO_MSH'
  | 'BATCH'
  | 'DELIMITERS'
  | 'SEGMENT'
  | 'REQUIRED_FIELD'
  | 'UNSUPPORTED_VERSION'
  | 'CHARSET'
  | 'UNSUPPORTED_CHARSET'
  | 'MULTIPLE_MESSAGES'
  | 'SEGMENT_SEQUENCE'
  | 'MESSAGE_TYPE'
  | 'BATCH_COUNT';

/**
 * HL7 table 0357 (message error condition codes), with the descriptions HL7 gives them.
 * ACK builders put the code and this text in ERR-3 (v2.5+) or ERR-1.4 / MSA-6 (v2.3, v2.4).
 * @see https://hl7-definition.caristix.com/v2/HL7v2.5.1/Tables/0357
 */
export const HL7_ERROR_CODES = {
  '0': 'Message accepted',
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '104': 'Value too long',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '202': 'Unsupported processing id',
  '203': 'Unsupported version id',
  '204': 'Unknown key identifier',
  '205': 'Duplicate key identifier',
  '206': 'Application record locked',
  '207': 'Application internal error',
} as const;

export type Hl7ErrorCode = keyof typeof HL7_ERROR_CODES;

/** Where in a message an error was found; every member is optional because many errors have no position. */
export interface Hl7ErrorLocation {
  /** Segment ID, e.g. `OBX`. */
  segment?: string;
  /**
   * 1-based occurrence of `segment` in the message (the third OBX is 3), which is what ERR-2.2
   * (ERL segment sequence) and ERR-1.2 expect.
   */
  segmentIndex?: number;
  /** 1-based position of the segment among all segments of the message (MSH is 1). */
  position?: number;
  /** 1-based field number, HL7 numbering (MSH-1 is the field separator). */
  field?: number;
  component?: number;
}

/**
 * Input that will never parse as it is: bad bytes, a missing MSH, wrong delimiters, a
 * truncated header. Permanent (`retriable = false`): retrying cannot help, so the caller
 * answers AR/CR (or AE/CE) and dead-letters the original bytes.
 */
export class Hl7ParseError extends Error implements Hl7ErrorLocation {
  readonly retriable = false;
  readonly code: Hl7ParseErrorCode;
  /** HL7 table 0357 code for the ACK: '100', '101', '102', '103', '200', '203', '207'… */
  readonly hl7ErrorCode: Hl7ErrorCode;
  readonly segment?: string;
  readonly segmentIndex?: number;
  readonly position?: number;
  readonly field?: number;
  readonly component?: number;

  constructor(
    code: Hl7ParseErrorCode,
    message: string,
    details: Hl7ErrorLocation & { hl7ErrorCode?: Hl7ErrorCode; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'Hl7ParseError';
    this.code = code;
    this.hl7ErrorCode = details.hl7ErrorCode ?? '207';
    if (details.segment !== undefined) this.segment = details.segment;
    if (details.segmentIndex !== undefined) this.segmentIndex = details.segmentIndex;
    if (details.position !== undefined) this.position = details.position;
    if (details.field !== undefined) this.field = details.field;
    if (details.component !== undefined) this.component = details.component;
  }
}

/**
 * A value that cannot be written in the message's character set (e.g. `€` in a US-ASCII
 * message). Raised by `toBytes()` after an edit, never by parsing.
 */
export class Hl7EncodeError extends Error {
  readonly retriable = false;
  readonly code = 'CHARSET_ENCODE';

  constructor(message: string) {
    super(message);
    this.name = 'Hl7EncodeError';
  }
}
