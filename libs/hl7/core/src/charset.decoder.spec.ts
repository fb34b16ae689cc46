import { fallbackCharset, Hl7Charset, resolveCharset } from './charset.decoder';
import { Hl7EncodeError } from './hl7.errors';

describe('resolveCharset (MSH-18, table 0211)', () => {
  it.each([
    ['', 'US-ASCII'],
    ['ASCII', 'US-ASCII'],
    ['8859/1', 'ISO-8859-1'],
    ['ISO IR100', 'ISO-8859-1'],
    ['iso-8859-1', 'ISO-8859-1'],
    ['8859/2', 'ISO-8859-2'],
    ['8859/15', 'ISO-8859-15'],
    ['ISO IR203', 'ISO-8859-15'],
    ['UNICODE UTF-8', 'UTF-8'],
    ['UTF-8', 'UTF-8'],
    ['UNICODE', 'UTF-8'],
    ['cp1252', 'windows-1252'],
  ])('%j is %s', (msh18, name) => {
    expect(resolveCharset(msh18)?.name).toBe(name);
  });

  it.each(['UNICODE UTF-16', 'ISO IR87', 'BIG-5', '8859/11', 'nonsense'])('%j is refused', (v) => {
    expect(resolveCharset(v)).toBeUndefined();
  });
});

describe('Hl7Charset', () => {
  const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

  it('decodes strictly and reports the first invalid byte', () => {
    expect(Hl7Charset.ASCII.decode(bytes(0x41, 0x42))).toBe('AB');
    expect(Hl7Charset.ASCII.decode(bytes(0x41, 0xe9))).toEqual({ invalidAt: 1 });
    expect(Hl7Charset.UTF8.decode(bytes(0x41, 0xc3, 0xa9))).toBe('Aé');
    expect(Hl7Charset.UTF8.decode(bytes(0x41, 0x42, 0xe9, 0x41))).toEqual({ invalidAt: 2 });
    expect(Hl7Charset.UTF8.decode(bytes(0xed, 0xa0, 0x80))).toEqual({ invalidAt: 0 }); // surrogate
    expect(Hl7Charset.UTF8.decode(bytes(0xc0, 0x80))).toEqual({ invalidAt: 0 }); // overlong
    expect(Hl7Charset.LATIN1.decode(bytes(0xe9, 0x80))).toBe('é\x80');
    expect(Hl7Charset.WINDOWS_1252.decode(bytes(0x80, 0x92))).toBe('€\u2019');
    expect(resolveCharset('8859/2')?.decode(bytes(0xa3))).toBe('Ł');
    expect(resolveCharset('8859/3')?.decode(bytes(0x41, 0xa5))).toEqual({ invalidAt: 1 }); // undefined in 8859-3
    expect(resolveCharset('8859/9')?.decode(bytes(0x80))).toBe('\x80'); // ISO C1, not windows-1254
  });

  it('encodes or names the character it cannot hold', () => {
    expect(Array.from(Hl7Charset.LATIN1.encode('é'))).toEqual([0xe9]);
    expect(Array.from(Hl7Charset.WINDOWS_1252.encode('€'))).toEqual([0x80]);
    expect(Array.from(resolveCharset('8859/15')?.encode('€') ?? [])).toEqual([0xa4]);
    expect(() => Hl7Charset.ASCII.encode('é')).toThrow(Hl7EncodeError);
    expect(() => Hl7Charset.LATIN1.encode('€')).toThrow(/U\+20AC at character 0/);
    expect(() => Hl7Charset.UTF8.encode('a\ud800')).toThrow(/U\+D800 at character 1/);
  });

  it('maps fallback names', () => {
    expect(fallbackCharset('latin1')).toBe(Hl7Charset.LATIN1);
    expect(fallbackCharset('windows-1252')).toBe(Hl7Charset.WINDOWS_1252);
    expect(fallbackCharset('utf-8')).toBe(Hl7Charset.UTF8);
  });
});
