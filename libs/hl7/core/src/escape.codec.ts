import { Hl7Charset } from './charset.decoder';
import { DEFAULT_DELIMITERS, type Hl7Delimiters } from './hl7-delimiters';

/**
 * HL7 escape sequences, both ways (HL7 v2.5.1 ch. 2.7 "Use of escape sequences in text
 * fields"; `\P\` truncation from v2.7).
 *
 * - `unescapeValue` decodes the delimiter escapes `\F\ \S\ \T\ \R\ \E\ \P\` and hexadecimal
 *   data `\Xhh…\` (bytes in the message charset). Formatting commands (`\.br\`, `\H\`, `\N\`…),
 *   charset switches (`\Cxxyy\`, `\Mxxyyzz\`) and local `\Z…\` escapes are markup, not data:
 *   they are kept verbatim so that FT/TX can still be rendered ({@link renderFormattedText}).
 *   Unknown sequences and lone escape characters are kept as they are; nothing is dropped.
 * - `escapeValue` makes any string safe to place in a field: `unescapeValue(escapeValue(s)) === s`.
 */

/** What an escape sequence means; see {@link classifyEscape}. */
export type EscapeKind =
  | 'delimiter' // F S T R E P
  | 'hex' // Xhhhh
  | 'highlight' // H N
  | 'format' // .br .sp .in .ti .sk .ce .fi .nf
  | 'charset' // Cxxyy Mxxyyzz
  | 'local' // Z…
  | 'invalid'; // not an escape sequence at all: the escape character is literal

const HEX = /^[0-9A-Fa-f]*$/;
const FORMAT = /^\.[a-z]{2}(?: ?[+-]?\d+)?$/i;
const LOCAL = /^Z[0-9A-Za-z.+-]*$/;
const CHARSET_SWITCH = /^(?:C[0-9A-Fa-f]{4}|M[0-9A-Fa-f]{4}(?:[0-9A-Fa-f]{2})?)$/;

/** Classifies the text between two escape characters. */
export function classifyEscape(content: string): EscapeKind {
  if (content.length === 1) {
    switch (content) {
      case 'F':
      case 'S':
      case 'T':
      case 'R':
      case 'E':
      case 'P':
        return 'delimiter';
      case 'H':
      case 'N':
        return 'highlight';
      default:
        return 'invalid';
    }
  }
  switch (content.charAt(0)) {
    case 'X':
      return HEX.test(content.slice(1)) ? 'hex' : 'invalid';
    case '.':
      return FORMAT.test(content) ? 'format' : 'invalid';
    case 'Z':
      return LOCAL.test(content) ? 'local' : 'invalid';
    case 'C':
    case 'M':
      return CHARSET_SWITCH.test(content) ? 'charset' : 'invalid';
    default:
      return 'invalid';
  }
}

/** The character a delimiter escape (`F S T R E P`) stands for; undefined for `P` without a truncation character. */
export function delimiterFor(letter: string, d: Hl7Delimiters): string | undefined {
  switch (letter) {
    case 'F':
      return d.field;
    case 'S':
      return d.component;
    case 'T':
      return d.subcomponent;
    case 'R':
      return d.repetition;
    case 'E':
      return d.escape;
    case 'P':
      return d.truncation;
    default:
      return undefined;
  }
}

/** Decodes `\Xhh…\` content (without the X); undefined when odd, empty or invalid in the charset. */
export function decodeHexEscape(hex: string, charset: Hl7Charset): string | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0) return undefined;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    const byte = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    if (Number.isNaN(byte)) return undefined;
    bytes[i] = byte;
  }
  return charset.decodeHex(bytes);
}

/**
 * Decodes the escape sequences of one primitive value (a component or subcomponent).
 * Cheap when there is nothing to decode: one `indexOf`.
 */
export function unescapeValue(
  raw: string,
  d: Hl7Delimiters = DEFAULT_DELIMITERS,
  charset: Hl7Charset = Hl7Charset.UTF8,
): string {
  const esc = d.escape;
  let open = raw.indexOf(esc);
  if (open === -1) return raw;
  let out = '';
  let copied = 0;
  while (open !== -1) {
    const close = raw.indexOf(esc, open + 1);
    if (close === -1) break; // a lone escape character: literal
    const content = raw.slice(open + 1, close);
    const kind = classifyEscape(content);
    if (kind === 'invalid') {
      // The opening character was literal; the closing one may open a real sequence.
      open = close;
      continue;
    }
    let decoded: string | undefined;
    if (kind === 'delimiter') decoded = delimiterFor(content, d);
    else if (kind === 'hex') decoded = decodeHexEscape(content.slice(1), charset);
    if (decoded !== undefined) {
      out += raw.slice(copied, open) + decoded;
      copied = close + 1;
    }
    // formatting / highlight / charset / local / undecodable hex: stays in `raw` verbatim
    open = raw.indexOf(esc, close + 1);
  }
  return copied === 0 ? raw : out + raw.slice(copied);
}

/**
 * Escapes a value for one primitive position: the five (six) delimiters become `\F\ \S\ \T\
 * \R\ \E\ (\P\)`, and CR/LF become `\X0D\`/`\X0A\` because a raw CR would end the segment.
 * Use {@link escapeText} for FT/TX where line breaks should become `\.br\`.
 */
export function escapeValue(value: string, d: Hl7Delimiters = DEFAULT_DELIMITERS): string {
  const f = d.field.charCodeAt(0);
  const c = d.component.charCodeAt(0);
  const r = d.repetition.charCodeAt(0);
  const e = d.escape.charCodeAt(0);
  const s = d.subcomponent.charCodeAt(0);
  const t = d.truncation === undefined ? -1 : d.truncation.charCodeAt(0);
  let out = '';
  let copied = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    let letter: string;
    if (ch === f) letter = 'F';
    else if (ch === c) letter = 'S';
    else if (ch === r) letter = 'R';
    else if (ch === e) letter = 'E';
    else if (ch === s) letter = 'T';
    else if (ch === t) letter = 'P';
    else if (ch === 0x0d) letter = 'X0D';
    else if (ch === 0x0a) letter = 'X0A';
    else continue;
    out += value.slice(copied, i) + d.escape + letter + d.escape;
    copied = i + 1;
  }
  return copied === 0 ? value : out + value.slice(copied);
}

/**
 * Escapes display text for an FT/TX field: like {@link escapeValue}, but line breaks
 * (`\r\n`, `\n`, `\r`) become the `\.br\` formatting command (HL7 v2.5.1 ch. 2.7.6).
 */
export function escapeText(text: string, d: Hl7Delimiters = DEFAULT_DELIMITERS): string {
  const lines = text.split(/\r\n|\r|\n/);
  const br = `${d.escape}.br${d.escape}`;
  return lines.map((line) => escapeValue(line, d)).join(br);
}
