import fc from 'fast-check';
import { Hl7Charset } from './charset.decoder';
import { classifyEscape, escapeText, escapeValue, unescapeValue } from './escape.codec';
import { DEFAULT_DELIMITERS, type Hl7Delimiters } from './hl7-delimiters';

const V27: Hl7Delimiters = { ...DEFAULT_DELIMITERS, truncation: '#' };

/** Five or six distinct delimiter characters, as a sender may choose them. */
const delimiters: fc.Arbitrary<Hl7Delimiters> = fc
  .uniqueArray(fc.constantFrom(...'|^~\\&#!@$%*+/:;<=>?[]{}_'.split('')), {
    minLength: 6,
    maxLength: 6,
  })
  .chain((chars) =>
    fc.boolean().map((withTruncation) => {
      const [field, component, repetition, escape, subcomponent, truncation] = chars as [
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      return {
        field,
        component,
        repetition,
        escape,
        subcomponent,
        ...(withTruncation ? { truncation } : {}),
      };
    }),
  );

/** Strings rich in delimiters, escape-like text, CR/LF and non-ASCII. */
const hl7ish = fc.string({
  unit: fc.oneof(
    fc.constantFrom(...'|^~\\&#!@$%*FSTREPXH.br0D\r\n'.split('')),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 40,
});

describe('escapeValue / unescapeValue', () => {
  it('escapes every delimiter and line breaks', () => {
    expect(escapeValue('a|b^c~d\\e&f#g\rh\ni')).toBe(
      'a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f#g\\X0D\\h\\X0A\\i',
    );
    expect(escapeValue('50#', V27)).toBe('50\\P\\');
    expect(escapeValue('plain text')).toBe('plain text');
  });

  it('decodes delimiter and hex escapes, and nothing else', () => {
    expect(unescapeValue('a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f')).toBe('a|b^c~d\\e&f');
    expect(unescapeValue('\\P\\', V27)).toBe('#');
    expect(unescapeValue('\\P\\')).toBe('\\P\\'); // no truncation character before v2.7
    expect(unescapeValue('caf\\XC3A9\\ \\X41\\')).toBe('café A');
    expect(unescapeValue('caf\\XE9\\', DEFAULT_DELIMITERS, Hl7Charset.LATIN1)).toBe('café');
    // hex bytes invalid in the charset, odd hex: kept as sent
    expect(unescapeValue('caf\\XE9\\')).toBe('caf\\XE9\\');
    expect(unescapeValue('\\X4\\')).toBe('\\X4\\');
    expect(unescapeValue('\\X80\\', DEFAULT_DELIMITERS, Hl7Charset.ASCII)).toBe('\\X80\\');
  });

  it('keeps formatting commands, charset switches, local and unknown escapes verbatim', () => {
    for (const raw of [
      'a\\.br\\b',
      '\\H\\bold\\N\\',
      '\\.sp2\\',
      '\\.in+4\\',
      '\\C2842\\',
      '\\M2442\\',
      '\\Zvendor\\',
      '\\Q\\',
      'C:\\temp\\x',
    ]) {
      expect(unescapeValue(raw)).toBe(raw);
    }
  });

  it('tolerates lone escape characters', () => {
    expect(unescapeValue('0.9\\%')).toBe('0.9\\%');
    expect(unescapeValue('\\')).toBe('\\');
    expect(unescapeValue('a\\b c\\F\\')).toBe('a\\b c|'); // "\b c\" is no sequence; \F\ is
    expect(unescapeValue('\\\\F\\')).toBe('\\|');
  });

  it('classifies sequences', () => {
    expect(
      ['F', 'X0D0A', 'H', '.br', '.sp 2', '.ti-3', 'C2842', 'M244228', 'Zabc', 'Xzz', '', 'FF'].map(
        classifyEscape,
      ),
    ).toEqual([
      'delimiter',
      'hex',
      'highlight',
      'format',
      'format',
      'format',
      'charset',
      'charset',
      'local',
      'invalid',
      'invalid',
      'invalid',
    ]);
  });

  it('escapeText writes line breaks as \\.br\\', () => {
    expect(escapeText('a|b\r\nc\nd')).toBe('a\\F\\b\\.br\\c\\.br\\d');
  });

  it('property: unescape(escape(s)) === s for any string and any delimiters', () => {
    fc.assert(
      fc.property(hl7ish, delimiters, (value, d) => {
        const escaped = escapeValue(value, d);
        for (const ch of [d.field, d.component, d.repetition, d.subcomponent, '\r', '\n']) {
          expect(escaped.includes(ch)).toBe(false);
        }
        expect(unescapeValue(escaped, d)).toBe(value);
        expect(unescapeValue(escaped, d, Hl7Charset.LATIN1)).toBe(value);
      }),
      { numRuns: 500 },
    );
  });

  it('property: unescape never throws and is the identity without escape characters', () => {
    fc.assert(
      fc.property(hl7ish, (raw) => {
        const decoded = unescapeValue(raw);
        if (!raw.includes('\\')) expect(decoded).toBe(raw);
      }),
      { numRuns: 500 },
    );
  });
});
