import { Buffer, isUtf8 } from 'node:buffer';
import { resolveCharset } from './charset.decoder';
import { unescapeValue } from './escape.codec';
import { readDelimiters, type Hl7Delimiters } from './hl7-delimiters';

/**
 * Characters tolerated before the first segment and between/after segments: whitespace,
 * NUL, the MLLP start block (0x0B) and file separator (0x1C) that leak from careless framing,
 * and a byte order mark.
 */
export function isJunk(code: number): boolean {
  return (
    code === 0x20 ||
    code === 0x0d ||
    code === 0x0a ||
    code === 0x09 ||
    code === 0x0b ||
    code === 0x1c ||
    code === 0x00 ||
    code === 0xfeff
  );
}

/** Index of the first character that is not junk (see {@link isJunk}). */
export function skipJunk(text: string, from = 0): number {
  let i = from;
  while (i < text.length && isJunk(text.charCodeAt(i))) i++;
  return i;
}

/** Same over bytes; also skips a UTF-8 byte order mark. */
export function skipJunkBytes(bytes: Uint8Array, from = 0): number {
  let i = from;
  for (;;) {
    const b = bytes[i];
    if (b === undefined) return i;
    if (b === 0xef && bytes[i + 1] === 0xbb && bytes[i + 2] === 0xbf) i += 3;
    else if (b < 0x80 && isJunk(b)) i++;
    else return i;
  }
}

/**
 * The same bytes as a Buffer without copying: Buffer's `indexOf` is a native memchr, while
 * `Uint8Array.prototype.indexOf` walks element by element (30× slower on a 4 KB miss).
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** End (exclusive) of the line starting at `from`: the first CR or LF, or the end. */
export function lineEndBytes(input: Uint8Array, from: number): number {
  const bytes = asBuffer(input);
  const cr = bytes.indexOf(0x0d, from);
  const lf = bytes.indexOf(0x0a, from);
  if (cr === -1) return lf === -1 ? bytes.length : lf;
  return lf === -1 ? cr : Math.min(cr, lf);
}

/** End (exclusive) of the line starting at `from` in text. */
export function lineEndText(text: string, from: number): number {
  const cr = text.indexOf('\r', from);
  const lf = text.indexOf('\n', from);
  if (cr === -1) return lf === -1 ? text.length : lf;
  return lf === -1 ? cr : Math.min(cr, lf);
}

/** What a gateway needs from MSH to route, log and acknowledge a message, read cheaply. */
export interface MshHeader {
  readonly delimiters: Hl7Delimiters;
  /** MSH-3..MSH-6 as encoded (HD values keep their components, e.g. `LIS^1.2.3^ISO`). */
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly receivingApplication: string;
  readonly receivingFacility: string;
  /** MSH-7 as sent. */
  readonly dateTime: string;
  /** MSH-9 as encoded, e.g. `ORU^R01^ORU_R01`. */
  readonly messageType: string;
  /** MSH-9.1, MSH-9.2, MSH-9.3 (decoded). */
  readonly messageCode: string;
  readonly triggerEvent: string;
  readonly messageStructure: string;
  /** MSH-10 (decoded). */
  readonly controlId: string;
  /** MSH-11.1: P, T or D. */
  readonly processingId: string;
  /** MSH-12.1, e.g. `2.5.1`. */
  readonly version: string;
  /** MSH-15 / MSH-16 (table 0155: AL, NE, ER, SU); empty when absent. */
  readonly acceptAckType: string;
  readonly applicationAckType: string;
  /** MSH-18, first repetition, as sent (empty when absent). */
  readonly charset: string;
  /** Number of fields in MSH, HL7 numbering. */
  readonly fieldCount: number;
}

/**
 * Reads MSH-1…MSH-18 from the first segment without parsing or decoding the message: one
 * line is looked at. Undefined when the input does not start with a readable MSH (no MSH,
 * unusable delimiters). Never throws.
 */
export function peekMsh(input: Uint8Array | string): MshHeader | undefined {
  try {
    const line = mshLine(input);
    return line === undefined ? undefined : readMshLine(line);
  } catch {
    return undefined;
  }
}

/** The MSH line of the input as text (Latin-1 unless it is valid UTF-8 and MSH-18 says so). */
function mshLine(input: Uint8Array | string): string | undefined {
  if (typeof input === 'string') {
    const start = skipJunk(input);
    if (!input.startsWith('MSH', start)) return undefined;
    return input.slice(start, lineEndText(input, start));
  }
  const start = skipJunkBytes(input);
  if (input[start] !== 0x4d || input[start + 1] !== 0x53 || input[start + 2] !== 0x48) {
    return undefined;
  }
  const buffer = asBuffer(input);
  const end = lineEndBytes(buffer, start);
  const latin1 = buffer.toString('latin1', start, end);
  const header = readMshLine(latin1);
  if (
    header &&
    resolveCharset(header.charset)?.name === 'UTF-8' &&
    isUtf8(buffer.subarray(start, end))
  ) {
    return buffer.toString('utf8', start, end);
  }
  return latin1;
}

/** Splits one MSH line (starting at `MSH`) into the header fields. */
export function readMshLine(line: string): MshHeader | undefined {
  const read = readDelimiters(line, 0);
  if ('problem' in read) return undefined;
  const d = read.delimiters;
  // parts[0] = 'MSH', parts[1] = MSH-2, parts[n-1] = MSH-n
  const parts = line.split(d.field);
  const field = (n: number): string => parts[n - 1] ?? '';
  const component = (value: string, k: number): string =>
    unescapeValue(value.split(d.repetition)[0]?.split(d.component)[k - 1] ?? '', d);
  const messageType = field(9);
  return {
    delimiters: d,
    sendingApplication: field(3),
    sendingFacility: field(4),
    receivingApplication: field(5),
    receivingFacility: field(6),
    dateTime: field(7),
    messageType,
    messageCode: component(messageType, 1),
    triggerEvent: component(messageType, 2),
    messageStructure: component(messageType, 3),
    controlId: unescapeValue(field(10), d),
    processingId: component(field(11), 1),
    version: component(field(12), 1),
    acceptAckType: component(field(15), 1),
    applicationAckType: component(field(16), 1),
    charset: component(field(18), 1),
    fieldCount: parts.length,
  };
}
