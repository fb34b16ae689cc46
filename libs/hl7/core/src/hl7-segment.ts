import type { Hl7Charset } from './charset.decoder';
import { escapeText, escapeValue, unescapeValue } from './escape.codec';
import { renderFormattedText } from './formatted-text.renderer';
import type { Hl7Delimiters } from './hl7-delimiters';
import { parsePath } from './hl7-path';

/** What a segment shares with its message: delimiters, charset and the "edited" flag. */
export interface SegmentContext {
  readonly delimiters: Hl7Delimiters;
  readonly charset: Hl7Charset;
  /** Set by any edit so the message knows it can no longer hand back its original bytes. */
  dirty: boolean;
}

/** A value to set: a primitive, or the components (subcomponents) of the addressed element. */
export type Hl7Value = string | readonly string[];

// Kinds of separators recorded inside a field (the low two bits of a mark). A V8 string holds
// fewer than 2^29 characters, so `position * 4 + kind` stays a positive 32-bit integer.
const REP = 1;
const COMP = 2;
const SUB = 3;

/**
 * Index of the last field read (one for the whole process: reads go field by field): its
 * bounds and the repetition/component/subcomponent separators inside it, as
 * `position * 4 + kind`. Reading OBX-5 rep by rep, component by component walks this short
 * list instead of rescanning the text, and no segment carries an array for it.
 */
let markOwner: Hl7Segment | undefined;
let markedField = 0;
let markLo = 0;
let markHi = 0;
let markEscape = false;
const marks: number[] = [];

// Scratch bounds written by the locate helpers: avoids allocating a tuple per lookup on the hot path.
let lo = 0;
let hi = 0;

/**
 * Finds the `k`-th (1-based) piece of text[s, e) split on `sep`; false when it does not exist.
 * A plain char loop bounded by `e`: `indexOf` would run past the element to the end of a
 * large message when the separator is absent, which makes many lookups quadratic.
 */
function narrow(text: string, s: number, e: number, sep: number, k: number): boolean {
  let p = s;
  for (let i = 1; i < k; i++) {
    while (p < e && text.charCodeAt(p) !== sep) p++;
    if (p >= e) return false;
    p++;
  }
  let q = p;
  while (q < e && text.charCodeAt(q) !== sep) q++;
  lo = p;
  hi = q;
  return true;
}

/**
 * One segment of a message. Fields are found lazily: the positions of the field separators
 * are scanned only as far as the highest field asked for, and remembered; repetitions,
 * components and subcomponents are located by scanning the field once (see `marks`), and
 * nothing is allocated but the returned string.
 *
 * Field numbers follow HL7: for MSH, field 1 is the field separator itself and field 2 the
 * encoding characters (HL7 v2.5.1 ch. 2.14.9).
 */
export class Hl7Segment {
  /** The segment ID, e.g. `OBX` or `ZPI`. */
  readonly name: string;
  /** @internal what followed the segment in the original text (its terminator). */
  terminator: string | undefined;

  private text: string;
  private start: number;
  private end: number;
  private readonly isHeader: boolean;
  /** Positions of the field separators found so far (the first one follows the segment ID). */
  private seps: number[] = [];
  private complete = false;

  /** @internal use Hl7Message.segment(s) or Hl7Message.addSegment. */
  constructor(
    private readonly ctx: SegmentContext,
    text: string,
    start: number,
    end: number,
    name?: string,
  ) {
    this.text = text;
    this.start = start;
    this.end = end;
    this.name = name ?? text.slice(start, Math.min(end, start + 3));
    this.isHeader = this.name === 'MSH' || this.name === 'FHS' || this.name === 'BHS';
  }

  /** The segment's delimiters (those of its message). */
  get delimiters(): Hl7Delimiters {
    return this.ctx.delimiters;
  }

  /** Number of fields present, HL7 numbering (an MSH with MSH-12 as its last field has 12). */
  get fieldCount(): number {
    this.scanTo(Number.MAX_SAFE_INTEGER);
    return this.isHeader ? this.seps.length + 1 : this.seps.length;
  }

  /**
   * The decoded value at a position in this segment. Without a repetition, component or
   * subcomponent, the first one is meant (HAPI Terser convention): `get(5)` is OBX-5[1].1.1.
   * Undefined when that position is absent; `''` when present but empty; `'""'` is the HL7
   * explicit null, returned as such (see {@link HL7_NULL}).
   *
   * @param field field number, or a path relative to the segment such as `'3[2].1'`.
   */
  get(field: number | string, repetition = 1, component = 1, subcomponent = 1): string | undefined {
    if (typeof field === 'string') {
      const p = parsePath(field);
      return this.get(p.field, p.repetition, p.component, p.subcomponent);
    }
    if (this.isHeader && field <= 2) return this.headerField(field);
    if ((markOwner !== this || field !== markedField) && !this.markField(field)) return undefined;
    const n = marks.length;
    let i = 0;
    let start = markLo;
    for (let k = 1; k < repetition; k++) {
      while (i < n && ((marks[i] ?? 0) & 3) !== REP) i++;
      if (i >= n) return undefined;
      start = ((marks[i] ?? 0) >> 2) + 1;
      i++;
    }
    for (let k = 1; k < component; k++) {
      while (i < n && ((marks[i] ?? 0) & 3) === SUB) i++;
      if (i >= n || ((marks[i] ?? 0) & 3) === REP) return undefined;
      start = ((marks[i] ?? 0) >> 2) + 1;
      i++;
    }
    for (let k = 1; k < subcomponent; k++) {
      if (i >= n || ((marks[i] ?? 0) & 3) !== SUB) return undefined;
      start = ((marks[i] ?? 0) >> 2) + 1;
      i++;
    }
    const end = i < n ? (marks[i] ?? 0) >> 2 : markHi;
    const raw = this.text.slice(start, end);
    if (!markEscape) return raw;
    const d = this.ctx.delimiters;
    return raw.includes(d.escape) ? unescapeValue(raw, d, this.ctx.charset) : raw;
  }

  /**
   * The encoded text at a position, escapes not decoded. Unlike {@link get}, an absent
   * level means "all of it": `getRaw(3)` is the whole field with its repetitions,
   * `getRaw(3, 2)` the second repetition with its components.
   */
  getRaw(
    field: number | string,
    repetition?: number,
    component?: number,
    subcomponent?: number,
  ): string | undefined {
    if (typeof field === 'string') {
      const p = parsePath(field);
      return this.getRaw(p.field, p.repetition, p.component, p.subcomponent);
    }
    if (this.isHeader && field <= 2) return this.headerField(field);
    if (!this.locateField(field)) return undefined;
    if (repetition === undefined && component === undefined && subcomponent === undefined) {
      return this.text.slice(lo, hi);
    }
    const d = this.ctx.delimiters;
    if (!narrow(this.text, lo, hi, d.repetition.charCodeAt(0), repetition ?? 1)) return undefined;
    if (component !== undefined || subcomponent !== undefined) {
      if (!narrow(this.text, lo, hi, d.component.charCodeAt(0), component ?? 1)) return undefined;
      if (subcomponent !== undefined) {
        if (!narrow(this.text, lo, hi, d.subcomponent.charCodeAt(0), subcomponent)) {
          return undefined;
        }
      }
    }
    return this.text.slice(lo, hi);
  }

  /**
   * An FT/TX field as readable text: repetitions become lines, formatting commands
   * (`\.br\`, `\.sp\`, `\.in\`…) are applied, escapes decoded. Undefined when absent.
   */
  getText(field: number | string, repetition?: number): string | undefined {
    if (typeof field === 'string') {
      const p = parsePath(field);
      return this.getText(p.field, p.repetition);
    }
    const d = this.ctx.delimiters;
    const raw = this.getRaw(field, repetition);
    if (raw === undefined) return undefined;
    const reps = repetition === undefined ? raw.split(d.repetition) : [raw];
    return reps.map((r) => renderFormattedText(r, d, this.ctx.charset)).join('\n');
  }

  /** Number of repetitions of a field: 0 when absent or empty. */
  repetitionCount(field: number): number {
    if (this.isHeader && field <= 2) return this.locateField(field) ? 1 : 0;
    if ((markOwner !== this || field !== markedField) && !this.markField(field)) return 0;
    if (markLo === markHi) return 0;
    let n = 1;
    for (const mark of marks) if ((mark & 3) === REP) n++;
    return n;
  }

  /** Decoded values of every repetition of a field (component 1, subcomponent 1 of each, or those given). */
  getRepetitions(field: number, component = 1, subcomponent = 1): string[] {
    const count = this.repetitionCount(field);
    const values: string[] = [];
    for (let r = 1; r <= count; r++) values.push(this.get(field, r, component, subcomponent) ?? '');
    return values;
  }

  /**
   * Sets the value at a position, escaping it. A string sets one primitive (the first
   * repetition/component/subcomponent where the path stops, like {@link get}); an array sets
   * the components of the addressed repetition (or the subcomponents of the addressed
   * component). Missing fields, repetitions and components are created empty.
   * `'""'` writes the HL7 explicit null.
   */
  set(field: number | string, value: Hl7Value): this {
    const p = typeof field === 'string' ? parsePath(field) : { field };
    const d = this.ctx.delimiters;
    if (typeof value === 'string') {
      return this.writeRaw(
        p.field,
        p.repetition ?? 1,
        p.component ?? 1,
        p.subcomponent ?? 1,
        escapeValue(value, d),
      );
    }
    if (p.subcomponent !== undefined) {
      throw new TypeError('An array value sets components or subcomponents, not below');
    }
    const parts = value.map((v) => escapeValue(v, d));
    return p.component === undefined
      ? this.writeRaw(p.field, p.repetition ?? 1, undefined, undefined, parts.join(d.component))
      : this.writeRaw(
          p.field,
          p.repetition ?? 1,
          p.component,
          undefined,
          parts.join(d.subcomponent),
        );
  }

  /** Sets display text in an FT/TX position: escaped, line breaks as `\.br\`. */
  setText(field: number | string, text: string): this {
    const p = typeof field === 'string' ? parsePath(field) : { field };
    return this.writeRaw(
      p.field,
      p.repetition ?? 1,
      p.component ?? 1,
      p.subcomponent ?? 1,
      escapeText(text, this.ctx.delimiters),
    );
  }

  /**
   * Replaces the encoded text at a position as it is (no escaping); like {@link getRaw}, an
   * absent level means the whole element: `setRaw(5, 'A~B')` replaces all of field 5.
   */
  setRaw(field: number | string, raw: string): this {
    const p = typeof field === 'string' ? parsePath(field) : { field };
    return this.writeRaw(p.field, p.repetition, p.component, p.subcomponent, raw);
  }

  /** The segment as encoded text, without terminator. */
  toString(): string {
    return this.start === 0 && this.end === this.text.length
      ? this.text
      : this.text.slice(this.start, this.end);
  }

  private headerField(field: number): string | undefined {
    if (field === 1) return this.ctx.delimiters.field;
    this.scanTo(2);
    const first = this.seps[0];
    if (first === undefined) return undefined;
    const second = this.seps[1] ?? this.end;
    return this.text.slice(first + 1, second);
  }

  /**
   * Locates a field and records the separators inside it (one pass over its characters), so
   * that every repetition/component/subcomponent of it can be found without rescanning.
   */
  private markField(field: number): boolean {
    if (!this.locateField(field)) return false;
    const d = this.ctx.delimiters;
    const r = d.repetition.charCodeAt(0);
    const c = d.component.charCodeAt(0);
    const s = d.subcomponent.charCodeAt(0);
    const e = d.escape.charCodeAt(0);
    const text = this.text;
    marks.length = 0;
    // The cache must know which segment it describes; holding it is the point.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    markOwner = this;
    markedField = field;
    markLo = lo;
    markHi = hi;
    if (hi - lo > 32) {
      // Long values (FT/TX reports) rarely hold separators: native searches over the field
      // alone say so without a JavaScript loop over every character.
      const value = text.slice(lo, hi);
      markEscape = value.includes(d.escape);
      if (
        !value.includes(d.component) &&
        !value.includes(d.repetition) &&
        !value.includes(d.subcomponent)
      ) {
        return true;
      }
    }
    let escape = false;
    for (let q = lo; q < hi; q++) {
      const ch = text.charCodeAt(q);
      if (ch === c) marks.push(q * 4 + COMP);
      else if (ch === r) marks.push(q * 4 + REP);
      else if (ch === s) marks.push(q * 4 + SUB);
      else if (ch === e) escape = true;
    }
    markEscape = escape;
    return true;
  }

  /** Sets lo/hi to the bounds of a field; false when the segment has no such field. */
  private locateField(field: number): boolean {
    const element = this.isHeader ? field - 1 : field;
    if (element < 1) return false;
    if (this.seps.length <= element) this.scanTo(element + 1);
    const open = this.seps[element - 1];
    if (open === undefined) return false;
    lo = open + 1;
    hi = this.seps[element] ?? this.end;
    return true;
  }

  /** Records field separator positions until `count` are known or the segment ends. */
  private scanTo(count: number): void {
    const seps = this.seps;
    if (this.complete || seps.length >= count) return;
    const text = this.text;
    const end = this.end;
    // A segment that is just its ID has no fields; searching would run into the next segments.
    if (end - this.start <= 3) {
      this.complete = true;
      return;
    }
    // Native indexOf on the message text. When no separator is left in this segment it runs on
    // to the next one — the 4th character of the next segment with fields, past blank lines and
    // field-less segments. Each such stretch is crossed by one segment only, so reading every
    // segment stays linear in the message length.
    const sep = this.ctx.delimiters.field;
    let p = seps.length === 0 ? this.start : (seps[seps.length - 1] ?? this.start) + 1;
    // MSH-1 is the field separator itself: after it, MSH-2 starts immediately.
    while (seps.length < count) {
      p = text.indexOf(sep, p);
      if (p === -1 || p >= end) {
        this.complete = true;
        return;
      }
      seps.push(p);
      p++;
    }
  }

  private writeRaw(
    field: number,
    repetition: number | undefined,
    component: number | undefined,
    subcomponent: number | undefined,
    raw: string,
  ): this {
    const d = this.ctx.delimiters;
    if (this.isHeader && field <= 2) {
      throw new TypeError(`${this.name}-1 and ${this.name}-2 are the delimiters and cannot be set`);
    }
    if (field < 1) throw new TypeError('Field numbers start at 1');
    const fields = this.toString().split(d.field);
    const index = this.isHeader ? field - 1 : field;
    while (fields.length <= index) fields.push('');
    let value = raw;
    if (repetition !== undefined || component !== undefined || subcomponent !== undefined) {
      value = replacePart(fields[index] ?? '', d.repetition, repetition ?? 1, (rep) => {
        if (component === undefined && subcomponent === undefined) return raw;
        return replacePart(rep, d.component, component ?? 1, (comp) =>
          subcomponent === undefined
            ? raw
            : replacePart(comp, d.subcomponent, subcomponent, () => raw),
        );
      });
    }
    fields[index] = value;
    const text = fields.join(d.field);
    this.text = text;
    this.start = 0;
    this.end = text.length;
    this.seps = [];
    this.complete = false;
    if (markOwner === this) markOwner = undefined;
    this.ctx.dirty = true;
    return this;
  }
}

/** The HL7 explicit null (`""`): "delete the value held by the receiver", unlike an empty field. */
export const HL7_NULL = '""';

function replacePart(
  value: string,
  sep: string,
  index: number,
  replace: (current: string) => string,
): string {
  const parts = value.split(sep);
  while (parts.length < index) parts.push('');
  parts[index - 1] = replace(parts[index - 1] ?? '');
  return parts.join(sep);
}
