import { Buffer, isAscii, isUtf8 } from 'node:buffer';
import { Hl7EncodeError } from './hl7.errors';

/** The charsets a sender may name in DecodeOptions.fallbackCharset. */
export type FallbackCharset = 'latin1' | 'windows-1252' | 'utf-8';

type CharsetKind = 'ascii' | 'latin1' | 'utf8' | 'single-byte';

/**
 * One character set we can decode and encode, named by its IANA name.
 *
 * Only ASCII-compatible charsets are supported: the parser reads MSH as ASCII before it knows
 * the charset (MSH-18 is inside the message), which is only sound when ASCII bytes mean ASCII
 * characters. UTF-16/32 and the ISO 2022 / multi-byte Asian sets of table 0211 are refused
 * (`UNSUPPORTED_CHARSET`) rather than guessed.
 */
export class Hl7Charset {
  private table?: Int32Array;
  private reverse?: Map<number, number>;

  private constructor(
    /** IANA name, e.g. `UTF-8`, `ISO-8859-1`, `windows-1252`, `US-ASCII`. */
    readonly name: string,
    private readonly kind: CharsetKind,
    /** WHATWG label for the upper half of single-byte sets. */
    private readonly label?: string,
  ) {}

  static readonly ASCII = new Hl7Charset('US-ASCII', 'ascii');
  static readonly LATIN1 = new Hl7Charset('ISO-8859-1', 'latin1');
  static readonly UTF8 = new Hl7Charset('UTF-8', 'utf8');
  static readonly WINDOWS_1252 = new Hl7Charset('windows-1252', 'single-byte', 'windows-1252');

  /** @internal */
  static singleByte(iana: string, label: string): Hl7Charset {
    return new Hl7Charset(iana, 'single-byte', label);
  }

  /**
   * Decodes `bytes`, or returns the offset of the first byte that is invalid in this charset.
   * Never substitutes U+FFFD: a wrong charset must surface, not corrupt a result silently.
   */
  decode(bytes: Uint8Array): string | { invalidAt: number } {
    const buffer = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    switch (this.kind) {
      case 'ascii':
        if (isAscii(buffer)) return buffer.toString('latin1');
        return { invalidAt: firstNonAscii(bytes) };
      case 'latin1':
        return buffer.toString('latin1');
      case 'utf8':
        if (isUtf8(buffer)) return buffer.toString('utf8');
        return { invalidAt: firstInvalidUtf8(bytes) };
      case 'single-byte': {
        if (isAscii(buffer)) return buffer.toString('latin1');
        const table = this.byteTable();
        const units = new Uint16Array(bytes.length);
        for (let i = 0; i < bytes.length; i++) {
          const code = table[bytes[i] ?? 0] ?? -1;
          if (code < 0) return { invalidAt: i };
          units[i] = code;
        }
        return UTF16.decode(units);
      }
    }
  }

  /**
   * Decodes the bytes of a `\Xhh…\` escape (HL7 v2.5.1 ch. 2.7.5: "hexadecimal data"), which
   * are bytes in the message charset. Undefined when they are not valid there: the caller
   * keeps the escape sequence verbatim.
   */
  decodeHex(bytes: Uint8Array): string | undefined {
    const decoded = this.decode(bytes);
    return typeof decoded === 'string' ? decoded : undefined;
  }

  /** Encodes `text`; throws {@link Hl7EncodeError} naming the first character this charset cannot hold. */
  encode(text: string): Uint8Array {
    switch (this.kind) {
      case 'ascii':
      case 'latin1': {
        const max = this.kind === 'ascii' ? 0x7f : 0xff;
        for (let i = 0; i < text.length; i++) {
          if (text.charCodeAt(i) > max) throw this.cannotEncode(text, i);
        }
        return Buffer.from(text, 'latin1');
      }
      case 'utf8': {
        const lone = LONE_SURROGATE.exec(text);
        if (lone) throw this.cannotEncode(text, lone.index);
        return Buffer.from(text, 'utf8');
      }
      case 'single-byte': {
        const reverse = this.reverseTable();
        const out = new Uint8Array(text.length);
        for (let i = 0; i < text.length; i++) {
          const c = text.charCodeAt(i);
          const b = c < 0x80 ? c : reverse.get(c);
          if (b === undefined) throw this.cannotEncode(text, i);
          out[i] = b;
        }
        return out;
      }
    }
  }

  private cannotEncode(text: string, index: number): Hl7EncodeError {
    const code = text.codePointAt(index) ?? 0;
    return new Hl7EncodeError(
      `U+${code.toString(16).toUpperCase().padStart(4, '0')} at character ${index} cannot be written in ${this.name}; declare a wider charset in MSH-18 (e.g. UNICODE UTF-8)`,
    );
  }

  private byteTable(): Int32Array {
    if (this.table) return this.table;
    const table = new Int32Array(256);
    const upper = new TextDecoder(this.label ?? 'latin1').decode(
      Uint8Array.from({ length: 128 }, (_, i) => 0x80 + i),
    );
    for (let i = 0; i < 256; i++) {
      if (i < 0x80) table[i] = i;
      else if (this.label !== 'windows-1252' && i < 0xa0)
        table[i] = i; // ISO-8859 C1 controls
      else {
        const c = upper.charCodeAt(i - 0x80);
        table[i] = c === 0xfffd ? -1 : c;
      }
    }
    this.table = table;
    return table;
  }

  private reverseTable(): Map<number, number> {
    if (this.reverse) return this.reverse;
    const reverse = new Map<number, number>();
    const table = this.byteTable();
    for (let i = 0; i < 256; i++) {
      const c = table[i] ?? -1;
      if (c >= 0 && !reverse.has(c)) reverse.set(c, i);
    }
    this.reverse = reverse;
    return reverse;
  }
}

const UTF16 = new TextDecoder('utf-16le');
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

const ISO_8859_PARTS: Record<string, number> = {
  '8859/2': 2,
  '8859/3': 3,
  '8859/4': 4,
  '8859/5': 5,
  '8859/6': 6,
  '8859/7': 7,
  '8859/8': 8,
  '8859/9': 9,
  '8859/15': 15,
  ISOIR101: 2,
  ISOIR109: 3,
  ISOIR110: 4,
  ISOIR144: 5,
  ISOIR127: 6,
  ISOIR126: 7,
  ISOIR138: 8,
  ISOIR148: 9,
  ISOIR203: 15,
};

const NAMED: Record<string, Hl7Charset> = {
  '': Hl7Charset.ASCII,
  ASCII: Hl7Charset.ASCII,
  USASCII: Hl7Charset.ASCII,
  ISOIR6: Hl7Charset.ASCII,
  '8859/1': Hl7Charset.LATIN1,
  ISOIR100: Hl7Charset.LATIN1,
  ISO88591: Hl7Charset.LATIN1,
  LATIN1: Hl7Charset.LATIN1,
  UNICODEUTF8: Hl7Charset.UTF8,
  UTF8: Hl7Charset.UTF8,
  // "UNICODE" (deprecated in table 0211): its bytes are ASCII-compatible here, since MSH read as ASCII.
  UNICODE: Hl7Charset.UTF8,
  ISOIR192: Hl7Charset.UTF8,
  WINDOWS1252: Hl7Charset.WINDOWS_1252,
  CP1252: Hl7Charset.WINDOWS_1252,
};

const singleByteCache = new Map<number, Hl7Charset>();

/**
 * Maps an MSH-18 value (HL7 table 0211, first repetition, first component) to a charset.
 * Lenient about spelling (`8859/1`, `ISO IR100`, `ISO-8859-1`, `UTF-8` are all met in the
 * field); undefined when the charset is one we cannot decode.
 * @see https://hl7-definition.caristix.com/v2/HL7v2.5.1/Tables/0211
 */
export function resolveCharset(msh18: string): Hl7Charset | undefined {
  // Every message of a feed names the same charset: remember the answer per spelling.
  const known = resolved.get(msh18);
  if (known !== undefined) return known ?? undefined;
  const charset = resolveUncached(msh18);
  if (resolved.size < 256) resolved.set(msh18, charset ?? null);
  return charset;
}

const resolved = new Map<string, Hl7Charset | null>();

function resolveUncached(msh18: string): Hl7Charset | undefined {
  const key = msh18
    .trim()
    .toUpperCase()
    .replace(/[\s_-]+/g, '');
  const named = NAMED[key];
  if (named) return named;
  const part = ISO_8859_PARTS[key] ?? /^ISO8859(\d{1,2})$/.exec(key)?.[1];
  const n = typeof part === 'string' ? Number(part) : part;
  if (n === undefined || !((n >= 2 && n <= 9) || n === 15)) return undefined;
  let charset = singleByteCache.get(n);
  if (!charset) {
    charset = Hl7Charset.singleByte(`ISO-8859-${n}`, `iso-8859-${n}`);
    singleByteCache.set(n, charset);
  }
  return charset;
}

/** The charset object for a configured fallback. */
export function fallbackCharset(name: FallbackCharset): Hl7Charset {
  switch (name) {
    case 'latin1':
      return Hl7Charset.LATIN1;
    case 'windows-1252':
      return Hl7Charset.WINDOWS_1252;
    case 'utf-8':
      return Hl7Charset.UTF8;
  }
}

function firstNonAscii(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] ?? 0) >= 0x80) return i;
  return -1;
}

/** Offset of the first byte that starts an invalid UTF-8 sequence (RFC 3629 rules). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}
