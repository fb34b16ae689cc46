/**
 * The delimiters of one message, read from MSH-1 (field separator) and MSH-2 (encoding
 * characters: component, repetition, escape, subcomponent and, from v2.7, truncation).
 * @see HL7 v2.5.1 ch. 2.5.4 "Message delimiters"; v2.7 ch. 2.5.4 adds the truncation character.
 */
export interface Hl7Delimiters {
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  readonly escape: string;
  readonly subcomponent: string;
  /** v2.7+ fifth encoding character (`#` by convention); undefined when MSH-2 has four. */
  readonly truncation?: string;
}

/** `|^~\&`: what nearly every sender uses, and what we answer with when the sender's are unreadable. */
export const DEFAULT_DELIMITERS: Hl7Delimiters = Object.freeze({
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
});

/** MSH-2 as it is written: component, repetition, escape, subcomponent (and truncation). */
export function encodingCharacters(d: Hl7Delimiters): string {
  return d.component + d.repetition + d.escape + d.subcomponent + (d.truncation ?? '');
}

/**
 * A delimiter must be a printable ASCII character that is neither a letter, a digit nor a
 * space: anything else cannot be told apart from data (HL7 v2.5.1 ch. 2.5.4 recommends
 * `|^~\&` and forbids reusing one character for two roles).
 */
function isDelimiterChar(code: number): boolean {
  if (code <= 0x20 || code >= 0x7f) return false;
  if (code >= 0x30 && code <= 0x39) return false;
  const upper = code & ~0x20;
  return !(upper >= 0x41 && upper <= 0x5a);
}

/**
 * Reads the delimiters from the text of an MSH (or FHS/BHS) header starting at `start`
 * (the position of the `M`). Returns a reason instead of throwing so callers that must not
 * throw (reject builder, peek) can fall back.
 */
export function readDelimiters(
  text: string,
  start: number,
): { delimiters: Hl7Delimiters; msh2End: number } | { problem: string } {
  // Nearly every sender uses |^~\&: answer with the shared object without further checks.
  if (text.startsWith('|^~\\&', start + 3)) {
    const next = text.charCodeAt(start + 8);
    if (next === 0x7c || next === 0x0d || next === 0x0a || Number.isNaN(next)) {
      return { delimiters: DEFAULT_DELIMITERS, msh2End: start + 8 };
    }
  }
  const fieldSep = text.charCodeAt(start + 3);
  if (Number.isNaN(fieldSep)) return { problem: 'the header ends before MSH-1' };
  if (!isDelimiterChar(fieldSep)) {
    return { problem: `MSH-1 ${describeChar(fieldSep)} cannot be a field separator` };
  }
  const field = String.fromCharCode(fieldSep);
  let end = start + 4;
  const limit = Math.min(text.length, start + 10);
  while (end < limit) {
    const c = text.charCodeAt(end);
    if (c === fieldSep || c === 0x0d || c === 0x0a) break;
    end++;
  }
  const enc = text.slice(start + 4, end);
  if (enc.length < 4 || enc.length > 5) {
    return {
      problem: `MSH-2 must hold 4 encoding characters (5 from v2.7), found ${JSON.stringify(enc)}`,
    };
  }
  const seen = new Set<number>([fieldSep]);
  for (let i = 0; i < enc.length; i++) {
    const c = enc.charCodeAt(i);
    if (!isDelimiterChar(c) || seen.has(c)) {
      return {
        problem: `MSH-2 ${JSON.stringify(enc)}: ${describeChar(c)} is not a usable or distinct delimiter`,
      };
    }
    seen.add(c);
  }
  const delimiters: Hl7Delimiters = {
    field,
    component: enc.charAt(0),
    repetition: enc.charAt(1),
    escape: enc.charAt(2),
    subcomponent: enc.charAt(3),
    ...(enc.length === 5 ? { truncation: enc.charAt(4) } : {}),
  };
  return { delimiters, msh2End: end };
}

function describeChar(code: number): string {
  return code >= 0x21 && code < 0x7f
    ? `'${String.fromCharCode(code)}'`
    : `0x${code.toString(16).padStart(2, '0')}`;
}
