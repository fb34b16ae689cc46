import { isUtf8 } from 'node:buffer';
import type { Buffer } from 'node:buffer';
import { Hl7Charset } from './charset.decoder';
import { readDelimiters } from './hl7-delimiters';
import { Hl7ParseError } from './hl7.errors';
import { Hl7Message, type DecodeOptions, DEFAULT_MAX_BYTES } from './hl7-message';
import { Hl7Segment } from './hl7-segment';
import { asBuffer, isJunk } from './msh.reader';

/** One BHS…BTS batch (or the implicit batch of messages without BHS). */
export interface Hl7BatchGroup {
  readonly header?: Hl7Segment;
  readonly trailer?: Hl7Segment;
  readonly messages: Hl7Message[];
}

/** A batch file: [FHS] {[BHS] {MSH…} [BTS]} [FTS], split and parsed. */
export interface Hl7Batch {
  readonly fileHeader?: Hl7Segment;
  readonly fileTrailer?: Hl7Segment;
  readonly batches: Hl7BatchGroup[];
  /** Every message of every batch, in order. */
  readonly messages: Hl7Message[];
}

/** The raw input of one message inside a batch, for callers that parse (and ACK) one by one. */
export interface BatchChunk<T extends Uint8Array | string> {
  /** Index of the batch (0-based) the message belongs to. */
  readonly batch: number;
  /** 1-based line number of the message's MSH in the input, for error messages. */
  readonly line: number;
  readonly input: T;
}

export interface SplitBatch<T extends Uint8Array | string> {
  readonly fileHeader?: Hl7Segment;
  readonly fileTrailer?: Hl7Segment;
  readonly batches: { header?: Hl7Segment; trailer?: Hl7Segment; messageCount: number }[];
  readonly messages: BatchChunk<T>[];
}

type LineKind = 'FHS' | 'BHS' | 'BTS' | 'FTS' | 'MSH' | 'other' | 'blank';

/**
 * Splits an HL7 batch (HL7 v2.5.1 ch. 2.10.3: FHS/BHS/…/BTS/FTS, or a bare BHS batch, or
 * just consecutive messages) into the raw inputs of its messages, without decoding them:
 * each message is later decoded in its own MSH-18 charset. Checks the structure and the
 * counts in BTS-1 (messages in the batch) and FTS-1 (batches in the file); a mismatch, a
 * header without trailer (a truncated file) or a segment outside any message is an
 * `Hl7ParseError` listing what was found.
 */
export function splitBatch<T extends Uint8Array | string>(
  input: T,
  options: Pick<DecodeOptions, 'maxBytes'> = {},
): SplitBatch<T> {
  const max = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (input.length > max) {
    throw new Hl7ParseError('TOO_LARGE', `Batch of ${input.length} bytes exceeds ${max}`);
  }
  const lines = new LineReader(input);
  let fileHeader: Hl7Segment | undefined;
  let fileTrailer: Hl7Segment | undefined;
  const batches: { header?: Hl7Segment; trailer?: Hl7Segment; messageCount: number }[] = [];
  const messages: BatchChunk<T>[] = [];
  let current: { header?: Hl7Segment; trailer?: Hl7Segment; messageCount: number } | undefined;
  let open: { start: number; line: number } | undefined;
  const problems: string[] = [];

  const closeMessage = (end: number): void => {
    if (!open) return;
    messages.push({
      batch: batches.length - 1,
      line: open.line,
      input: lines.slice(open.start, end),
    });
    open = undefined;
  };
  const fail = (line: number, message: string, segment?: string): never => {
    throw new Hl7ParseError('BATCH', `Line ${line}: ${message}`, {
      ...(segment ? { segment, segmentIndex: 1 } : {}),
      position: line,
      hl7ErrorCode: '100',
    });
  };

  for (let line = lines.next(); line; line = lines.next()) {
    if (line.kind === 'blank') continue;
    if (fileTrailer) fail(line.number, `${line.name} after FTS`, line.name);
    switch (line.kind) {
      case 'FHS':
        if (fileHeader || batches.length > 0) fail(line.number, 'FHS must come first', 'FHS');
        fileHeader = lines.segment(line);
        break;
      case 'BHS':
        closeMessage(line.start);
        if (current && !current.trailer && current.header) {
          fail(line.number, 'BHS before the BTS of the previous batch', 'BHS');
        }
        current = { header: lines.segment(line), messageCount: 0 };
        batches.push(current);
        break;
      case 'MSH':
        closeMessage(line.start);
        if (!current || current.trailer) {
          current = { messageCount: 0 };
          batches.push(current);
        }
        current.messageCount++;
        open = { start: line.start, line: line.number };
        break;
      case 'BTS': {
        closeMessage(line.start);
        if (!current || current.trailer) fail(line.number, 'BTS without its BHS', 'BTS');
        const batch = current as { trailer?: Hl7Segment; messageCount: number };
        const trailer = lines.segment(line);
        batch.trailer = trailer;
        const declared = trailer.get(1) ?? '';
        if (declared !== '' && Number(declared) !== batch.messageCount) {
          problems.push(
            `BTS-1 of batch ${batches.length} says ${declared} messages, the batch holds ${batch.messageCount}`,
          );
        }
        break;
      }
      case 'FTS': {
        closeMessage(line.start);
        fileTrailer = lines.segment(line);
        const declared = fileTrailer.get(1) ?? '';
        if (declared !== '' && Number(declared) !== batches.length) {
          problems.push(`FTS-1 says ${declared} batches, the file holds ${batches.length}`);
        }
        break;
      }
      case 'other':
        if (!open) fail(line.number, `${line.name} outside any message`);
        break;
    }
  }
  closeMessage(input.length);
  for (const [i, b] of batches.entries()) {
    if (b.header && !b.trailer) {
      problems.push(`batch ${i + 1} has a BHS but no BTS (truncated?)`);
    }
  }
  if (fileHeader && !fileTrailer) problems.push('the file has an FHS but no FTS (truncated?)');
  if (problems.length > 0) {
    throw new Hl7ParseError('BATCH_COUNT', `Batch does not add up: ${problems.join('; ')}`, {
      hl7ErrorCode: '100',
    });
  }
  return {
    ...(fileHeader ? { fileHeader } : {}),
    ...(fileTrailer ? { fileTrailer } : {}),
    batches,
    messages,
  };
}

/**
 * Splits a batch (see {@link splitBatch}) and parses every message. The first message that
 * does not parse is an `Hl7ParseError` naming its position in the batch (its own error is
 * the `cause`); use `splitBatch` to parse and acknowledge messages one by one instead.
 */
export function readBatch(input: Uint8Array | string, options: DecodeOptions = {}): Hl7Batch {
  const split = splitBatch(input, options);
  const groups = split.batches.map((b) => ({ ...b, messages: [] as Hl7Message[] }));
  const messages: Hl7Message[] = [];
  split.messages.forEach((chunk, i) => {
    let message: Hl7Message;
    try {
      message = Hl7Message.parse(chunk.input, options);
    } catch (error) {
      if (!(error instanceof Hl7ParseError)) throw error;
      throw new Hl7ParseError(
        error.code,
        `Message ${i + 1} of the batch (line ${chunk.line}): ${error.message}`,
        {
          ...(error.segment === undefined ? {} : { segment: error.segment }),
          ...(error.segmentIndex === undefined ? {} : { segmentIndex: error.segmentIndex }),
          ...(error.position === undefined ? {} : { position: error.position }),
          ...(error.field === undefined ? {} : { field: error.field }),
          hl7ErrorCode: error.hl7ErrorCode,
          cause: error,
        },
      );
    }
    messages.push(message);
    groups[chunk.batch]?.messages.push(message);
  });
  return {
    ...(split.fileHeader ? { fileHeader: split.fileHeader } : {}),
    ...(split.fileTrailer ? { fileTrailer: split.fileTrailer } : {}),
    batches: groups.map(({ header, trailer, messages: m }) => ({
      ...(header ? { header } : {}),
      ...(trailer ? { trailer } : {}),
      messages: m,
    })),
    messages,
  };
}

interface Line {
  kind: LineKind;
  name: string;
  number: number;
  start: number;
  end: number;
}

/** Lines of bytes or text, by CR, LF or CRLF, in one pass (byte values are ASCII-compatible). */
class LineReader<T extends Uint8Array | string> {
  private pos = 0;
  private number = 0;
  private cr = -2;
  private lf = -2;
  private fileDelimiters: ReturnType<typeof readDelimiters> | undefined;

  private readonly bytes: Buffer | undefined;

  constructor(private readonly input: T) {
    this.bytes = typeof input === 'string' ? undefined : asBuffer(input);
  }

  next(): Line | undefined {
    const input = this.input;
    const length = input.length;
    if (this.pos >= length) return undefined;
    const start = this.pos;
    if (this.cr !== -1 && this.cr < start) this.cr = this.find(0x0d, start);
    if (this.lf !== -1 && this.lf < start) this.lf = this.find(0x0a, start);
    const cr = this.cr;
    const lf = this.lf;
    const end = cr === -1 ? (lf === -1 ? length : lf) : lf === -1 ? cr : Math.min(cr, lf);
    this.pos = end + 1;
    if (end === start) return { kind: 'blank', name: '', number: this.number, start, end };
    this.number++;
    const name = this.text(start, Math.min(end, start + 3));
    let blank = true;
    for (let i = start; i < end && blank; i++) blank = isJunk(this.code(i));
    const kind: LineKind = blank
      ? 'blank'
      : name === 'FHS' || name === 'BHS' || name === 'BTS' || name === 'FTS' || name === 'MSH'
        ? name
        : 'other';
    return { kind, name, number: this.number, start, end };
  }

  slice(start: number, end: number): T {
    return (
      typeof this.input === 'string'
        ? this.input.slice(start, end)
        : this.input.subarray(start, end)
    ) as T;
  }

  /** A batch header/trailer line as a segment, with the delimiters of its FHS/BHS (or MSH defaults). */
  segment(line: Line): Hl7Segment {
    const text = this.text(line.start, line.end);
    let read = this.fileDelimiters;
    if (line.kind === 'FHS' || line.kind === 'BHS') {
      read = readDelimiters(text, 0);
      if ('problem' in read) {
        throw new Hl7ParseError('DELIMITERS', `Line ${line.number}: ${read.problem}`, {
          segment: line.name,
          segmentIndex: 1,
          field: 2,
          hl7ErrorCode: '102',
        });
      }
      this.fileDelimiters = read;
    }
    const delimiters =
      read && !('problem' in read)
        ? read.delimiters
        : { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };
    const charset = isLatin1(text) ? Hl7Charset.LATIN1 : Hl7Charset.UTF8;
    return new Hl7Segment({ delimiters, charset, dirty: false }, text, 0, text.length);
  }

  private find(code: number, from: number): number {
    const input = this.input;
    return typeof input === 'string'
      ? input.indexOf(String.fromCharCode(code), from)
      : (this.bytes?.indexOf(code, from) ?? -1);
  }

  private code(i: number): number {
    const input = this.input;
    return typeof input === 'string' ? input.charCodeAt(i) : (input[i] ?? 0);
  }

  private text(start: number, end: number): string {
    const input = this.input;
    if (typeof input === 'string') return input.slice(start, end);
    const bytes = this.bytes ?? asBuffer(input);
    return isUtf8(bytes.subarray(start, end))
      ? bytes.toString('utf8', start, end)
      : bytes.toString('latin1', start, end);
  }
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}
