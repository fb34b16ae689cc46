/**
 * Small encoders for the composite fields of outbound messages (orders, charges). Every primitive goes
 * through hl7-core's `escapeValue`, so a `|`, `^`, `&`, `~` or `\` in a display name or a
 * clinician's note reaches the ancillary as `\F\ \S\ \T\ \R\ \E\` (HL7 v2.5.1 ch. 2.7) and
 * can never shift a field or a component.
 */
import { escapeText, escapeValue } from './escape.codec';
import type { Hl7Delimiters } from './hl7-delimiters';
import type { Hl7Message } from './hl7-message';

/** A primitive, absent (`null`/`undefined` are written empty). */
export type Hl7Primitive = string | null | undefined;
/** One component: a primitive, or its subcomponents. */
export type Hl7Component = Hl7Primitive | readonly Hl7Primitive[];
/** One repetition of a field: a primitive, or its components. */
export type Hl7Repetition = Hl7Primitive | readonly Hl7Component[];

/** Encodes one repetition; trailing empty components and subcomponents are left out. */
export function encodeRepetition(d: Hl7Delimiters, value: Hl7Repetition): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return escapeValue(value, d);
  return trimJoin(
    value.map((component) =>
      component === null || component === undefined
        ? ''
        : typeof component === 'string'
          ? escapeValue(component, d)
          : trimJoin(
              component.map((s) => escapeValue(s ?? '', d)),
              d.subcomponent,
            ),
    ),
    d.component,
  );
}

/** Encodes a repeating field: the repetitions that are not empty, joined by `~`. */
export function encodeRepetitions(d: Hl7Delimiters, values: readonly Hl7Repetition[]): string {
  return values
    .map((v) => encodeRepetition(d, v))
    .filter((v) => v !== '')
    .join(d.repetition);
}

/** FT/TX text: escaped, line breaks as the `\.br\` formatting command (v2.5.1 ch. 2.7.6). */
export function encodeText(d: Hl7Delimiters, text: string): string {
  return escapeText(text, d);
}

function trimJoin(parts: string[], sep: string): string {
  let n = parts.length;
  while (n > 0 && parts[n - 1] === '') n--;
  return parts.slice(0, n).join(sep);
}

/** Whether a version string (`2.3`, `2.5.1`) is at least major.minor. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map((x) => Number.parseInt(x, 10) || 0);
  return a > major || (a === major && b >= minor);
}

/** HL7 DTM/TS (v2.3 TS, v2.5 DTM) of a date-only ISO string: `1980-01-31` → `19800131`. */
export function hl7Date(isoDate: string | null | undefined): string | null {
  if (!isoDate) return null;
  const match = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(isoDate);
  if (!match) return null;
  return `${match[1] ?? ''}${match[2] ?? ''}${match[3] ?? ''}`;
}

/** A number as HL7 NM: plain decimal notation, no exponent, no trailing zeros. */
export function hl7Number(value: number | null | undefined): string | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
}

/** A field of {@link SegmentWriter.add}: one repetition, several, or FT text. */
export type Hl7FieldValue = Hl7Repetition | { reps: readonly Hl7Repetition[] } | { text: string };

/** Appends segments to a message field by field, every value escaped with the message's delimiters. */
export class SegmentWriter {
  private readonly d: Hl7Delimiters;
  constructor(private readonly message: Hl7Message) {
    this.d = message.delimiters;
  }

  add(name: string, fields: Record<number, Hl7FieldValue>): void {
    const segment = this.message.addSegment(name);
    const numbers = Object.keys(fields)
      .map(Number)
      .sort((a, b) => a - b);
    for (const n of numbers) {
      const raw = this.encode(fields[n]);
      if (raw !== '') segment.setRaw(n, raw);
    }
  }

  private encode(value: Hl7FieldValue | undefined): string {
    if (value === undefined || value === null || typeof value === 'string') {
      return encodeRepetition(this.d, value);
    }
    if ('reps' in value) return encodeRepetitions(this.d, value.reps);
    if ('text' in value) return encodeText(this.d, value.text);
    return encodeRepetition(this.d, value);
  }
}
