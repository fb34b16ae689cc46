import { Hl7Charset } from './charset.decoder';
import { classifyEscape, decodeHexEscape, delimiterFor } from './escape.codec';
import { DEFAULT_DELIMITERS, type Hl7Delimiters } from './hl7-delimiters';

/**
 * Turns an FT/TX value (raw, escapes not yet decoded) into readable plain text, keeping its
 * line structure. Implements the formatting commands of HL7 v2.5.1 ch. 2.7.6:
 *
 * | command      | rendering                                                        |
 * | ------------ | ---------------------------------------------------------------- |
 * | `\.br\`      | line break                                                       |
 * | `\.sp n\`    | end the line, then n (default 1) empty lines                      |
 * | `\.in ±n\`   | indent following lines by n spaces (signed: relative)            |
 * | `\.ti ±n\`   | indent only the current line, relative to the current indent     |
 * | `\.sk n\`    | n spaces                                                         |
 * | `\.ce\`      | end the line (centering has no plain-text meaning)               |
 * | `\.fi\ \.nf\`, `\H\ \N\` | dropped (word-wrap mode, highlighting)                |
 *
 * Delimiter and hex escapes are decoded; unknown sequences, charset switches and `\Z…\` are
 * kept verbatim; a lone escape character is literal.
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch02.html#Heading128 (v2.5.1 §2.7)
 */
export function renderFormattedText(
  raw: string,
  d: Hl7Delimiters = DEFAULT_DELIMITERS,
  charset: Hl7Charset = Hl7Charset.UTF8,
): string {
  const esc = d.escape;
  let out = '';
  let indent = 0;
  let lineIndent: number | undefined;
  let atLineStart = true;

  const emit = (text: string): void => {
    if (text.length === 0) return;
    if (atLineStart) {
      out += ' '.repeat(Math.max(0, lineIndent ?? indent));
      lineIndent = undefined;
    }
    out += text;
    const last = text.charCodeAt(text.length - 1);
    atLineStart = last === 0x0a || last === 0x0d;
  };
  const newline = (): void => {
    out += '\n';
    atLineStart = true;
    lineIndent = undefined;
  };

  let pos = 0;
  let open = raw.indexOf(esc);
  while (open !== -1) {
    const close = raw.indexOf(esc, open + 1);
    if (close === -1) break;
    const content = raw.slice(open + 1, close);
    const kind = classifyEscape(content);
    if (kind === 'invalid') {
      open = close;
      continue;
    }
    emit(raw.slice(pos, open));
    pos = close + 1;
    switch (kind) {
      case 'delimiter':
      case 'hex': {
        const decoded =
          kind === 'delimiter'
            ? delimiterFor(content, d)
            : decodeHexEscape(content.slice(1), charset);
        emit(decoded ?? raw.slice(open, close + 1));
        break;
      }
      case 'format':
        applyFormat(content);
        break;
      case 'highlight':
        break;
      case 'charset':
      case 'local':
        emit(raw.slice(open, close + 1));
        break;
    }
    open = raw.indexOf(esc, pos);
  }
  emit(raw.slice(pos));
  return out;

  function applyFormat(command: string): void {
    const name = command.slice(1, 3).toLowerCase();
    const arg = command.slice(3).trim();
    const signed = arg.startsWith('+') || arg.startsWith('-');
    const n = arg === '' ? undefined : Number(arg);
    switch (name) {
      case 'br':
        newline();
        break;
      case 'sp':
        if (!atLineStart) newline();
        for (let i = 0; i < (n ?? 1); i++) newline();
        break;
      case 'in':
        indent = Math.max(0, signed ? indent + (n ?? 0) : (n ?? 0));
        break;
      case 'ti':
        lineIndent = Math.max(0, indent + (n ?? 0));
        break;
      case 'sk':
        emit(' '.repeat(Math.max(0, n ?? 1)));
        break;
      case 'ce':
        if (!atLineStart) newline();
        break;
      case 'fi':
      case 'nf':
        break;
      default:
        emit(`${esc}${command}${esc}`);
    }
  }
}
