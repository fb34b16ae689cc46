import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import {
  fallbackCharset,
  Hl7Charset,
  resolveCharset,
  type FallbackCharset,
} from './charset.decoder';
import { escapeValue, unescapeValue } from './escape.codec';
import { formatHl7DateTime } from './hl7-datetime';
import {
  DEFAULT_DELIMITERS,
  encodingCharacters,
  readDelimiters,
  type Hl7Delimiters,
} from './hl7-delimiters';
import { Hl7ParseError } from './hl7.errors';
import { parsePath } from './hl7-path';
import { Hl7Segment, type Hl7Value, type SegmentContext } from './hl7-segment';
import { asBuffer, isJunk, lineEndBytes, lineEndText, skipJunk, skipJunkBytes } from './msh.reader';

/** How to read bytes whose charset the message does not state (or states wrongly). */
export interface DecodeOptions {
  /**
   * Used when MSH-18 is absent, or when the bytes are invalid in the charset MSH-18 declares
   * (a per-sender setting: many systems send Latin-1 or Windows-1252 and declare nothing).
   * Without it such bytes are an `Hl7ParseError` with code `CHARSET`: characters are never
   * replaced silently.
   */
  fallbackCharset?: FallbackCharset;
  /** Larger inputs are refused with code `TOO_LARGE` before any work (default 64 MiB). */
  maxBytes?: number;
}

export type LineEnding = '\r' | '\n' | '\r\n';

/** The fields of a new message's MSH; see {@link Hl7Message.create}. */
export interface CreateMessageOptions {
  /** MSH-9 with `^` between components, e.g. `ORU^R01^ORU_R01`. */
  messageType: string;
  /** MSH-12, default `2.5.1`. */
  version?: string;
  /** MSH-10, default a new unique id ({@link newControlId}). */
  controlId?: string;
  /** MSH-3..MSH-6 with `^` between components, e.g. `LIS^1.2.3.4^ISO`. */
  sendingApplication?: string;
  sendingFacility?: string;
  receivingApplication?: string;
  receivingFacility?: string;
  /** MSH-11, default `P`. */
  processingId?: string;
  /** MSH-15 / MSH-16 (table 0155); leave both out for original-mode acknowledgement. */
  acceptAckType?: 'AL' | 'NE' | 'ER' | 'SU';
  applicationAckType?: 'AL' | 'NE' | 'ER' | 'SU';
  /** MSH-18 (table 0211), e.g. `UNICODE UTF-8` or `8859/1`; empty means ASCII. */
  charset?: string;
  delimiters?: Hl7Delimiters;
  lineEnding?: LineEnding;
  /** MSH-7, default now. */
  now?: Date;
}

/** The default upper bound on an input: a frame larger than this is refused before parsing. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

const SEGMENT_ID = /^[A-Z][A-Z0-9]{2}$/;
const VERSION = /^2\.\d+(?:\.\d+)*$/;

function idOf(name: string): number {
  return (name.charCodeAt(0) << 16) | (name.charCodeAt(1) << 8) | name.charCodeAt(2);
}
const MSH_ID = idOf('MSH');
const FHS_ID = idOf('FHS');
const BHS_ID = idOf('BHS');
const BTS_ID = idOf('BTS');
const FTS_ID = idOf('FTS');

function isUpper(c: number): boolean {
  return c >= 0x41 && c <= 0x5a;
}
function isUpperOrDigit(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
}

/** A new MSH-10: 20 hex characters (80 random bits), within MSH-10's 20-character limit. */
export function newControlId(): string {
  return randomUUID().replace(/-/g, '').slice(0, 20).toUpperCase();
}

/**
 * One HL7 v2 message (v2.3 to v2.8).
 *
 * Parsing is lazy: `parse` decodes the bytes, finds the segment boundaries in one pass and
 * checks MSH; fields, repetitions and components are located only when asked for, and a
 * segment object exists only once it has been looked at. Serialising an unedited message
 * returns the original text/bytes, so the round trip is lossless by construction.
 *
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch02.html HL7 v2.5.1 ch. 2, message construction rules
 */
export class Hl7Message implements Iterable<Hl7Segment> {
  /** How segments were terminated in the input (the first terminator); used for new segments. */
  readonly lineEnding: LineEnding;

  private readonly ctx: SegmentContext;
  private readonly text: string;
  /** Segment bounds in `text`, interleaved: start of segment i at 2i, its end at 2i + 1. */
  private readonly bounds: number[];
  private segs: (Hl7Segment | undefined)[];
  private materialized = false;
  private readonly source: Uint8Array | undefined;
  private readonly bom: boolean;

  private constructor(init: {
    ctx: SegmentContext;
    text: string;
    bounds: number[];
    lineEnding: LineEnding;
    source?: Uint8Array;
    bom?: boolean;
  }) {
    this.ctx = init.ctx;
    this.text = init.text;
    this.bounds = init.bounds;
    this.segs = new Array<Hl7Segment | undefined>(init.bounds.length / 2);
    this.lineEnding = init.lineEnding;
    this.source = init.source;
    this.bom = init.bom ?? false;
  }

  /**
   * Parses one message from bytes (decoded with the charset MSH-18 names) or from text.
   * Throws {@link Hl7ParseError} for anything that is not a well-formed message: no MSH,
   * unusable delimiters, MSH without MSH-9/10/12, a line that is not a segment, bytes invalid
   * in the charset, a batch or several messages (use `readBatch`).
   */
  static parse(input: Uint8Array | string, options: DecodeOptions = {}): Hl7Message {
    const max = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (typeof input === 'string') {
      if (input.length > max) throw tooLarge(input.length, max);
      const start = skipJunk(input);
      checkStart(input, start);
      const line = input.slice(start, lineEndText(input, start));
      const read = readDelimiters(line, 0);
      const charset =
        'problem' in read
          ? Hl7Charset.ASCII // fromText reports the delimiter problem
          : charsetFor(msh18(line, read.delimiters), options.fallbackCharset);
      return Hl7Message.fromText(input, charset, true);
    }
    if (input.length > max) throw tooLarge(input.length, max);
    const { text, charset, bom } = decodeBytes(input, options);
    return Hl7Message.fromText(text, charset, true, input, bom);
  }

  /**
   * A new message with only an MSH, to be filled with {@link addSegment} and {@link set}.
   * MSH-7 is `now`, MSH-10 a new unique id unless given.
   */
  static create(options: CreateMessageOptions): Hl7Message {
    const d = options.delimiters ?? DEFAULT_DELIMITERS;
    const charset = resolveCharset(options.charset ?? '');
    if (!charset) throw new TypeError(`Unsupported MSH-18 charset ${String(options.charset)}`);
    const hd = (value: string | undefined): string =>
      (value ?? '')
        .split('^')
        .map((v) => escapeValue(v, d))
        .join(d.component);
    const fields = [
      encodingCharacters(d),
      hd(options.sendingApplication),
      hd(options.sendingFacility),
      hd(options.receivingApplication),
      hd(options.receivingFacility),
      formatHl7DateTime(options.now ?? new Date()),
      '',
      hd(options.messageType),
      escapeValue(options.controlId ?? newControlId(), d),
      hd(options.processingId ?? 'P'),
      escapeValue(options.version ?? '2.5.1', d),
      '',
      '',
      options.acceptAckType ?? '',
      options.applicationAckType ?? '',
      '',
      escapeValue(options.charset ?? '', d),
    ];
    while (fields.length > 11 && fields[fields.length - 1] === '') fields.pop();
    const text = `MSH${d.field}${fields.join(d.field)}${options.lineEnding ?? '\r'}`;
    return Hl7Message.fromText(text, charset, true);
  }

  /**
   * @internal Builds a message from text this library wrote itself (ACKs): segment
   * structure is checked, MSH content (version, required fields) is not.
   */
  static fromText(
    text: string,
    charset: Hl7Charset,
    validate: boolean,
    source?: Uint8Array,
    bom?: boolean,
  ): Hl7Message {
    const first = skipJunk(text);
    checkStart(text, first);
    const read = readDelimiters(text, first);
    if ('problem' in read) {
      throw new Hl7ParseError('DELIMITERS', `Unusable delimiters: ${read.problem}`, {
        segment: 'MSH',
        segmentIndex: 1,
        position: 1,
        field: 2,
        hl7ErrorCode: '102',
      });
    }
    const ctx: SegmentContext = { delimiters: read.delimiters, charset, dirty: false };
    const bounds = scanSegments(text, first, read.delimiters.field.charCodeAt(0));
    const afterMsh = bounds[1] ?? text.length;
    const c = text.charCodeAt(afterMsh);
    const lineEnding: LineEnding =
      c === 0x0a ? '\n' : c === 0x0d && text.charCodeAt(afterMsh + 1) === 0x0a ? '\r\n' : '\r';
    const message = new Hl7Message({
      ctx,
      text,
      bounds,
      lineEnding,
      ...(source ? { source } : {}),
      ...(bom === undefined ? {} : { bom }),
    });
    if (validate) message.checkHeader();
    return message;
  }

  /** MSH-10, the message control id that MSA-2 of the ACK must echo. */
  get controlId(): string {
    // MSH-10 is ST: the whole field, decoded (a stray repetition character is data here).
    const raw = this.header.getRaw(10) ?? '';
    return raw.includes(this.ctx.delimiters.escape)
      ? unescapeValue(raw, this.ctx.delimiters, this.ctx.charset)
      : raw;
  }

  /** MSH-9.1^MSH-9.2, e.g. `ORU^R01` (just `ACK` when there is no trigger event). */
  get messageType(): string {
    const code = this.header.get(9) ?? '';
    const event = this.header.get(9, 1, 2);
    return event ? `${code}^${event}` : code;
  }

  /** MSH-9.3, the message structure (e.g. `ORU_R01`); empty before v2.3.1 or when not sent. */
  get messageStructure(): string {
    return this.header.get(9, 1, 3) ?? '';
  }

  /** MSH-12.1, e.g. `2.5.1`. */
  get version(): string {
    return this.header.get(12) ?? '';
  }

  /** IANA name of the charset the message was decoded with (and will be encoded with). */
  get charset(): string {
    return this.ctx.charset.name;
  }

  /** The charset object (for decoding `\X…\` or encoding) — see {@link charset}. */
  get charsetCodec(): Hl7Charset {
    return this.ctx.charset;
  }

  get delimiters(): Hl7Delimiters {
    return this.ctx.delimiters;
  }

  /** The MSH segment. */
  get header(): Hl7Segment {
    return this.at(0);
  }

  get segmentCount(): number {
    return this.segs.length;
  }

  /** Whether the message was edited since parsing (then `toBytes()` re-encodes). */
  get modified(): boolean {
    return this.ctx.dirty;
  }

  /**
   * The decoded value at a path: `PID-3[2].1`, `OBX-5`, `OBR-4.2`, `OBX[3]-5.1.2`, `MSH-9.1`.
   * Missing repetition/component/subcomponent mean the first (so `OBX-5` is OBX-5[1].1.1);
   * a missing segment occurrence means the first. Undefined when absent, `''` when empty,
   * `'""'` for the HL7 explicit null. Use {@link getRaw} for the encoded text of a whole field.
   */
  get(path: string): string | undefined {
    const p = parsePath(path);
    const seg = this.find(requireSegment(p.segment, path), p.occurrence ?? 1);
    return seg?.get(p.field, p.repetition, p.component, p.subcomponent);
  }

  /** The encoded text at a path; an absent level means all of it (see {@link Hl7Segment.getRaw}). */
  getRaw(path: string): string | undefined {
    const p = parsePath(path);
    const seg = this.find(requireSegment(p.segment, path), p.occurrence ?? 1);
    return seg?.getRaw(p.field, p.repetition, p.component, p.subcomponent);
  }

  /** An FT/TX position as readable text (formatting commands applied, repetitions as lines). */
  getText(path: string): string | undefined {
    const p = parsePath(path);
    const seg = this.find(requireSegment(p.segment, path), p.occurrence ?? 1);
    return seg?.getText(p.field, p.repetition);
  }

  /** The value at a path in every segment of that name, in order (e.g. every OBX-5). */
  getAll(path: string): (string | undefined)[] {
    const p = parsePath(path);
    const id = idOf(requireSegment(p.segment, path));
    const values: (string | undefined)[] = [];
    for (let i = 0; i < this.segs.length; i++) {
      if (this.idAt(i) === id) {
        values.push(this.at(i).get(p.field, p.repetition, p.component, p.subcomponent));
      }
    }
    return values;
  }

  /** The segment at a 0-based index, or the `occurrence`-th (1-based) segment with that name. */
  segment(indexOrName: number | string, occurrence = 1): Hl7Segment | undefined {
    if (typeof indexOrName === 'number') {
      return indexOrName >= 0 && indexOrName < this.segs.length ? this.at(indexOrName) : undefined;
    }
    return this.find(indexOrName, occurrence);
  }

  /** All segments, or those with a given name, in message order. */
  segments(name?: string): Hl7Segment[] {
    const result: Hl7Segment[] = [];
    const id = name === undefined ? -1 : idOf(name);
    for (let i = 0; i < this.segs.length; i++) {
      if (id === -1 || this.idAt(i) === id) result.push(this.at(i));
    }
    return result;
  }

  /** 0-based index of a segment of this message, -1 if it is not one. */
  indexOf(segment: Hl7Segment): number {
    return this.segs.indexOf(segment);
  }

  /** 1-based occurrence of a segment among those of its name (the ERR-2.2 "segment sequence"). */
  occurrenceOf(segment: Hl7Segment): number {
    const index = this.indexOf(segment);
    if (index === -1) return 0;
    const id = idOf(segment.name);
    let n = 0;
    for (let i = 0; i <= index; i++) if (this.idAt(i) === id) n++;
    return n;
  }

  *[Symbol.iterator](): Iterator<Hl7Segment> {
    for (let i = 0; i < this.segs.length; i++) yield this.at(i);
  }

  /**
   * Sets the value at a path, escaped (see {@link Hl7Segment.set}). When the segment does not
   * exist and the path names its next occurrence, it is appended at the end.
   */
  set(path: string, value: Hl7Value): this {
    this.segmentFor(path).set(stripSegment(path), value);
    return this;
  }

  /** Sets FT/TX display text at a path: escaped, line breaks written as `\.br\`. */
  setText(path: string, text: string): this {
    this.segmentFor(path).setText(stripSegment(path), text);
    return this;
  }

  /** Sets already-encoded text at a path (no escaping). */
  setRaw(path: string, raw: string): this {
    this.segmentFor(path).setRaw(stripSegment(path), raw);
    return this;
  }

  /**
   * Appends (or inserts at `index`) a segment. `fields[0]` is field 1; strings are escaped,
   * arrays are components.
   */
  addSegment(
    name: string,
    fields: readonly (Hl7Value | undefined)[] = [],
    index?: number,
  ): Hl7Segment {
    if (!SEGMENT_ID.test(name) || name === 'MSH') {
      throw new TypeError(`Cannot add a segment named ${JSON.stringify(name)}`);
    }
    const d = this.ctx.delimiters;
    let text = name;
    for (const value of fields) {
      text +=
        d.field +
        (value === undefined
          ? ''
          : typeof value === 'string'
            ? escapeValue(value, d)
            : value.map((v) => escapeValue(v, d)).join(d.component));
    }
    const segment = new Hl7Segment(this.ctx, text, 0, text.length, name);
    segment.terminator = this.lineEnding;
    this.materialize();
    const at =
      index === undefined ? this.segs.length : Math.max(1, Math.min(index, this.segs.length));
    this.segs.splice(at, 0, segment);
    this.ctx.dirty = true;
    return segment;
  }

  /** Removes the segment at a 0-based index (MSH cannot be removed). */
  removeSegment(index: number): void {
    if (index < 1 || index >= this.segs.length) {
      throw new RangeError(`No removable segment at index ${index}`);
    }
    this.materialize();
    this.segs.splice(index, 1);
    this.ctx.dirty = true;
  }

  /**
   * The message as text. Unedited: exactly the input. Edited: unedited segments and their
   * original terminators are kept, new segments end with {@link lineEnding}. With
   * `lineEnding`, every segment is written with it (normalised, leading junk dropped).
   */
  toString(options: { lineEnding?: LineEnding } = {}): string {
    const normalise = options.lineEnding;
    if (!this.ctx.dirty && normalise === undefined) return this.text;
    this.materialize();
    const parts: string[] = [];
    if (normalise === undefined) parts.push(this.text.slice(0, this.bounds[0] ?? 0));
    const last = this.segs.length - 1;
    this.segs.forEach((seg, i) => {
      if (!seg) return;
      parts.push(seg.toString());
      if (normalise !== undefined) parts.push(normalise);
      else parts.push(i === last ? (seg.terminator ?? '') : seg.terminator || this.lineEnding);
    });
    return parts.join('');
  }

  /**
   * The message as bytes in its charset. Unedited and parsed from bytes: the very input
   * (same buffer: treat as read-only). Otherwise encoded; throws `Hl7EncodeError` when an
   * edit put in a character the charset cannot hold.
   */
  toBytes(): Uint8Array {
    if (!this.ctx.dirty && this.source) return this.source;
    const body = this.ctx.charset.encode(this.toString());
    if (!this.bom) return body;
    return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]);
  }

  private at(i: number): Hl7Segment {
    let seg = this.segs[i];
    if (!seg) {
      const start = this.bounds[2 * i] ?? 0;
      seg = new Hl7Segment(this.ctx, this.text, start, this.bounds[2 * i + 1] ?? start);
      this.segs[i] = seg;
    }
    return seg;
  }

  private idAt(i: number): number {
    if (!this.materialized) {
      const text = this.text;
      const start = this.bounds[2 * i] ?? 0;
      return (
        (text.charCodeAt(start) << 16) |
        (text.charCodeAt(start + 1) << 8) |
        text.charCodeAt(start + 2)
      );
    }
    const seg = this.segs[i];
    return seg ? idOf(seg.name) : -1;
  }

  private find(name: string, occurrence: number): Hl7Segment | undefined {
    const id = idOf(name);
    let n = 0;
    for (let i = 0; i < this.segs.length; i++) {
      if (this.idAt(i) === id && ++n === occurrence) return this.at(i);
    }
    return undefined;
  }

  private segmentFor(path: string): Hl7Segment {
    const p = parsePath(path);
    const name = requireSegment(p.segment, path);
    const occurrence = p.occurrence ?? 1;
    const found = this.find(name, occurrence);
    if (found) return found;
    if (occurrence !== this.segments(name).length + 1) {
      throw new RangeError(`${name}[${occurrence}] does not exist and is not the next ${name}`);
    }
    return this.addSegment(name);
  }

  /** Creates every segment object and records each one's original terminator, before edits that move segments. */
  private materialize(): void {
    if (this.materialized) return;
    const n = this.segs.length;
    for (let i = 0; i < n; i++) {
      const seg = this.at(i);
      if (seg.terminator === undefined) {
        const end = this.bounds[2 * i + 1] ?? 0;
        seg.terminator = this.text.slice(end, this.bounds[2 * i + 2] ?? this.text.length);
      }
    }
    this.materialized = true;
  }

  /** MSH-9, MSH-10 and MSH-12 are required to route and acknowledge a message (v2.5.1 ch. 2.14.9). */
  private checkHeader(): void {
    const msh = this.header;
    const missing: string[] = [];
    const required: [number, string][] = [
      [9, 'message type'],
      [10, 'message control id'],
      [12, 'version id'],
    ];
    for (const [field, label] of required) {
      if (!msh.get(field)) missing.push(`MSH-${field} (${label})`);
    }
    const first = missing[0];
    if (first !== undefined) {
      throw new Hl7ParseError(
        'REQUIRED_FIELD',
        `MSH has ${msh.fieldCount} fields; ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`,
        {
          segment: 'MSH',
          segmentIndex: 1,
          position: 1,
          field: Number(/\d+/.exec(first)?.[0]),
          hl7ErrorCode: '101',
        },
      );
    }
    const version = this.version;
    if (!VERSION.test(version)) {
      throw new Hl7ParseError(
        'UNSUPPORTED_VERSION',
        `MSH-12 version ${JSON.stringify(version)} is not an HL7 v2.x version`,
        { segment: 'MSH', segmentIndex: 1, position: 1, field: 12, hl7ErrorCode: '203' },
      );
    }
  }
}

function requireSegment(segment: string | undefined, path: string): string {
  if (segment === undefined) {
    throw new TypeError(`HL7 path ${JSON.stringify(path)} must start with a segment ID`);
  }
  return segment;
}

function stripSegment(path: string): string {
  return path.slice(path.indexOf('-') + 1);
}

function tooLarge(size: number, max: number): Hl7ParseError {
  return new Hl7ParseError('TOO_LARGE', `Input of ${size} bytes exceeds the limit of ${max}`, {
    hl7ErrorCode: '207',
  });
}

function checkStart(text: string, start: number): void {
  if (start >= text.length) {
    throw new Hl7ParseError('EMPTY', 'The input holds no segments', { hl7ErrorCode: '100' });
  }
  if (text.startsWith('MSH', start)) return;
  const head = text.slice(start, start + 3);
  if (head === 'FHS' || head === 'BHS') {
    throw new Hl7ParseError('BATCH', `The input is a batch (${head}); read it with readBatch()`, {
      segment: head,
      segmentIndex: 1,
      position: 1,
      hl7ErrorCode: '100',
    });
  }
  throw new Hl7ParseError(
    'NO_MSH',
    `The input does not start with an MSH segment (found ${JSON.stringify(text.slice(start, start + 8))})`,
    { position: 1, hl7ErrorCode: '100' },
  );
}

/**
 * MSH-18 (first repetition, first component) of an MSH line, found by counting field
 * separators: most messages stop before MSH-18, and then nothing is split or allocated.
 */
function msh18(line: string, d: Hl7Delimiters): string {
  const sep = d.field;
  // The separator at 3 precedes MSH-2; the one before MSH-n is the (n-1)-th.
  let p = 3;
  for (let n = 3; n <= 18; n++) {
    p = line.indexOf(sep, p + 1);
    if (p === -1) return '';
  }
  let end = line.indexOf(sep, p + 1);
  if (end === -1) end = line.length;
  const value = line.slice(p + 1, end).split(d.repetition)[0] ?? '';
  return unescapeValue(value.split(d.component)[0] ?? '', d).trim();
}

function charsetFor(msh18: string, fallback: FallbackCharset | undefined): Hl7Charset {
  if (msh18 === '' && fallback) return fallbackCharset(fallback);
  const charset = resolveCharset(msh18);
  if (!charset) {
    throw new Hl7ParseError(
      'UNSUPPORTED_CHARSET',
      `MSH-18 character set ${JSON.stringify(msh18)} is not supported (ASCII, 8859/x, UNICODE UTF-8)`,
      { segment: 'MSH', segmentIndex: 1, position: 1, field: 18, hl7ErrorCode: '103' },
    );
  }
  return charset;
}

/**
 * Finds every segment in one pass: CR, LF and CRLF all end a segment, blank lines and
 * trailing junk are skipped, and each line must start with a segment ID followed by the field
 * separator (or end). A second MSH, or batch header/trailer segments, are refused: they mean
 * several messages, which {@link Hl7Message.parse} must not half-read.
 */
function scanSegments(text: string, from: number, fieldSep: number): number[] {
  const bounds: number[] = [];
  const n = text.length;
  let pos = from;
  let cr = text.indexOf('\r', pos);
  let lf = text.indexOf('\n', pos);
  // LF-terminated message: its first terminator is a lone LF. Otherwise CR is the terminator
  // and a lone LF that is not followed by a segment is data (a line break some vendors leave
  // inside TX/FT values): rejecting the message for it would help no one, and it round-trips.
  const lfMode = lf !== -1 && (cr === -1 || lf < cr);
  while (pos < n) {
    if (cr !== -1 && cr < pos) cr = text.indexOf('\r', pos);
    if (lf !== -1 && lf < pos) lf = text.indexOf('\n', pos);
    let end = cr === -1 ? (lf === -1 ? n : lf) : lf === -1 ? cr : Math.min(cr, lf);
    while (
      !lfMode &&
      end === lf &&
      end > pos &&
      text.charCodeAt(end - 1) !== 0x0d &&
      !segmentOrBlankAt(text, end + 1, fieldSep)
    ) {
      lf = text.indexOf('\n', end + 1);
      end = cr === -1 ? (lf === -1 ? n : lf) : lf === -1 ? cr : Math.min(cr, lf);
    }
    if (end > pos) {
      const c0 = text.charCodeAt(pos);
      const c1 = text.charCodeAt(pos + 1);
      const c2 = text.charCodeAt(pos + 2);
      const valid =
        end >= pos + 3 &&
        isUpper(c0) &&
        isUpperOrDigit(c1) &&
        isUpperOrDigit(c2) &&
        (end === pos + 3 || text.charCodeAt(pos + 3) === fieldSep);
      if (valid) {
        const id = (c0 << 16) | (c1 << 8) | c2;
        if (bounds.length > 0) checkInner(id, text, pos, bounds.length / 2 + 1);
        bounds.push(pos, end);
      } else if (!isBlank(text, pos, end)) {
        const position = bounds.length / 2 + 1;
        throw new Hl7ParseError(
          'SEGMENT',
          `Segment ${position} does not start with a segment ID and field separator: ${JSON.stringify(text.slice(pos, Math.min(end, pos + 24)))}`,
          { position, hl7ErrorCode: '100' },
        );
      }
    }
    pos = end + 1;
  }
  return bounds;
}

/** Whether a segment starts at `i` (ID then field separator or line end), or only junk follows on that line. */
function segmentOrBlankAt(text: string, i: number, fieldSep: number): boolean {
  const c0 = text.charCodeAt(i);
  if (Number.isNaN(c0) || c0 === 0x0d || c0 === 0x0a) return true;
  if (
    isUpper(c0) &&
    isUpperOrDigit(text.charCodeAt(i + 1)) &&
    isUpperOrDigit(text.charCodeAt(i + 2))
  ) {
    const c3 = text.charCodeAt(i + 3);
    if (c3 === fieldSep || c3 === 0x0d || c3 === 0x0a || Number.isNaN(c3)) return true;
  }
  let j = i;
  while (j < text.length && isJunk(text.charCodeAt(j)) && text.charCodeAt(j) !== 0x0d) j++;
  return j >= text.length || text.charCodeAt(j) === 0x0d;
}

function checkInner(id: number, text: string, pos: number, position: number): void {
  if (id === MSH_ID) {
    throw new Hl7ParseError(
      'MULTIPLE_MESSAGES',
      `A second MSH at segment ${position}: the input holds several messages; read it with readBatch()`,
      { segment: 'MSH', segmentIndex: 2, position, hl7ErrorCode: '100' },
    );
  }
  if (id === FHS_ID || id === BHS_ID || id === BTS_ID || id === FTS_ID) {
    const name = text.slice(pos, pos + 3);
    throw new Hl7ParseError(
      'BATCH',
      `Batch segment ${name} at segment ${position} inside a message; read the input with readBatch()`,
      { segment: name, segmentIndex: 1, position, hl7ErrorCode: '100' },
    );
  }
}

function isBlank(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isJunk(text.charCodeAt(i))) return false;
  return true;
}

/**
 * Decodes message bytes. MSH is read as ASCII first (its bytes are ASCII in every charset we
 * support) to learn MSH-18; then the whole input is decoded strictly in that charset, or in
 * the configured fallback when MSH-18 is absent or the bytes are invalid in it.
 */
function decodeBytes(
  input: Uint8Array,
  options: DecodeOptions,
): { text: string; charset: Hl7Charset; bom: boolean } {
  const bom = input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf;
  const body = bom ? input.subarray(3) : input;
  const start = skipJunkBytes(body);
  const bodyBuffer = asBuffer(body);
  const latin1 = (from: number, to: number): string => bodyBuffer.toString('latin1', from, to);
  const mshText = latin1(start, lineEndBytes(body, start));
  checkStart(mshText, 0);
  const read = readDelimiters(mshText, 0);
  if ('problem' in read) {
    // Let the text parser report the delimiter problem with its position.
    Hl7Message.fromText(mshText, Hl7Charset.LATIN1, false);
    throw new Hl7ParseError('DELIMITERS', 'Unusable MSH delimiters', { hl7ErrorCode: '102' });
  }
  const fallback = options.fallbackCharset;
  const declared = msh18(mshText, read.delimiters);
  const charset = charsetFor(declared, fallback);
  const decoded = charset.decode(body);
  if (typeof decoded === 'string') return { text: decoded, charset, bom };
  if (fallback && declared !== '') {
    const second = fallbackCharset(fallback);
    const retry = second.decode(body);
    if (typeof retry === 'string') return { text: retry, charset: second, bom };
  }
  const at = decoded.invalidAt;
  const where = locateByte(body, at, read.delimiters.field.charCodeAt(0));
  throw new Hl7ParseError(
    'CHARSET',
    `Byte 0x${(body[at] ?? 0).toString(16).padStart(2, '0')} at offset ${at + (bom ? 3 : 0)}` +
      (where.segment ? ` (${where.segment}-${where.field ?? 0})` : '') +
      ` is not valid ${charset.name}` +
      (declared === ''
        ? ' (MSH-18 is empty, so ASCII applies)'
        : ` (MSH-18 ${JSON.stringify(declared)})`) +
      (fallback
        ? `, nor in the fallback ${fallback}`
        : '; configure a fallback charset for this sender'),
    { ...where, hl7ErrorCode: '102' },
  );
}

/** Segment and field of a byte offset, for error messages and ERR-2 (one pass up to the offset). */
function locateByte(
  bytes: Uint8Array,
  offset: number,
  fieldSep: number,
): { segment?: string; segmentIndex?: number; position?: number; field?: number } {
  const seen = new Map<string, number>();
  let name = '';
  let position = 0;
  let field = 0;
  let atLineStart = true;
  for (let i = 0; i < offset && i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    if (b === 0x0d || b === 0x0a) {
      atLineStart = true;
      continue;
    }
    if (atLineStart) {
      atLineStart = false;
      name = String.fromCharCode(b, bytes[i + 1] ?? 0, bytes[i + 2] ?? 0);
      position++;
      seen.set(name, (seen.get(name) ?? 0) + 1);
      field = name === 'MSH' ? 1 : 0;
    } else if (b === fieldSep) field++;
  }
  if (atLineStart || !SEGMENT_ID.test(name)) return { position: position + (atLineStart ? 1 : 0) };
  return { segment: name, segmentIndex: seen.get(name) ?? 1, position, field };
}
