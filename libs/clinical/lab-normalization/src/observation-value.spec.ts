import { Hl7Message, type Hl7Segment } from '@ancillary/hl7-core';
import {
  ObservationValueError,
  parseComparedNumber,
  parseReferenceRange,
  readObservationValue,
} from './observation-value';

/** An OBX segment parsed from text (fields after `OBX|`), in a minimal v2.5.1 message. */
function obx(fields: string): Hl7Segment {
  const message = Hl7Message.parse(
    `MSH|^~\\&|SIMLIS|NWH-LAB|EHR|NWH|20261115083000||ORU^R01|X1|P|2.5.1\rOBX|${fields}\r`,
  );
  const segment = message.segment('OBX');
  if (!segment) throw new Error('no OBX');
  return segment;
}

const uri = (system: string): string | null => (system === '' ? null : `urn:test:${system}`);
const read = (fields: string): ReturnType<typeof readObservationValue> =>
  readObservationValue(obx(fields), uri);

function failure(fields: string): ObservationValueError {
  try {
    read(fields);
  } catch (error) {
    if (error instanceof ObservationValueError) return error;
    throw error;
  }
  throw new Error('expected an ObservationValueError');
}

describe('readObservationValue', () => {
  describe('NM', () => {
    it.each([
      ['6.8', 6.8, null],
      ['-2', -2, null],
      ['.5', 0.5, null],
      ['140.', 140, null],
      ['>400', 400, '>'],
      ['<0.01', 0.01, '<'],
      ['>= 10', 10, '>='],
      ['<=5', 5, '<='],
      [' 7.25 ', 7.25, null],
    ])('%j is numeric %s with comparator %s', (value, numeric, comparator) => {
      expect(read(`1|NM|GLU^Glucose^L||${value}|mg/dL`)).toEqual({
        kind: 'NUMERIC',
        numeric,
        comparator,
        coded: null,
        text: null,
      });
    });

    it.each(['abc', '1,200', '5 mg', '1e3', '>', '=5', '4.2.1'])('refuses %j', (value) => {
      const error = failure(`1|NM|GLU^Glucose^L||${value}`);
      expect(error.message).toBe(`"${value}" is not a number (value type NM)`);
      expect(error.field).toBe(5);
    });

    it('refuses a repeating numeric value', () => {
      expect(failure('1|NM|GLU^Glucose^L||5~6').message).toBe('a numeric (NM) value cannot repeat');
    });
  });

  describe('SN', () => {
    it.each([
      ['>^400', { kind: 'NUMERIC', numeric: 400, comparator: '>' }],
      ['<=^0.5', { kind: 'NUMERIC', numeric: 0.5, comparator: '<=' }],
      ['^12.5', { kind: 'NUMERIC', numeric: 12.5, comparator: null }],
      ['=^12.5', { kind: 'NUMERIC', numeric: 12.5, comparator: null }],
      ['^1^:^128', { kind: 'STRING', text: '1:128' }],
      ['^1^/^64', { kind: 'STRING', text: '1/64' }],
      ['^10^-^20', { kind: 'STRING', text: '10-20' }],
      ['>^1^:^40', { kind: 'STRING', text: '>1:40' }],
      ['^2^+', { kind: 'STRING', text: '2+' }],
      ['<>^5', { kind: 'STRING', text: '<>5' }],
    ])('%j', (value, expected) => {
      expect(read(`1|SN|ANAT^ANA titer^L||${value}`)).toMatchObject(expected);
    });

    it.each([
      ['~^5', 'SN "~^5": comparator "~" is not one of = < > <= >= <>'],
      ['>^abc', 'SN ">^abc": "abc" (SN.2) is not a number'],
      [
        '^1^*^2',
        'SN "^1^*^2": separator "*" with "2" is not a ratio, range or category (SN.3 is one of : / - . +)',
      ],
      [
        '^1^:',
        'SN "^1^:": separator ":" with "" is not a ratio, range or category (SN.3 is one of : / - . +)',
      ],
    ])('refuses %j', (value, message) => {
      // `~` is the repetition separator: escape it so it reaches SN.1 as a character.
      const encoded = value.replace('~', '\\R\\');
      expect(failure(`1|SN|ANAT^ANA titer^L||${encoded}`).message).toBe(message);
    });
  });

  describe('coded', () => {
    it('reads CE/CWE as a coding with its system as a URI', () => {
      expect(read('1|CWE|UPRO^Urine protein^L||NEG^Negative^L')).toEqual({
        kind: 'CODED',
        numeric: null,
        comparator: null,
        coded: { system: 'urn:test:L', code: 'NEG', display: 'Negative' },
        text: null,
      });
      expect(read('1|CE|UPRO^Urine protein^L||NEG')).toMatchObject({
        coded: { system: null, code: 'NEG', display: null },
      });
    });

    it('keeps every repetition: the first as the coding, all of them in the text', () => {
      expect(
        read(
          '1|CWE|ORG^Organism^L||3092008^Staphylococcus aureus^SCT~112283007^Escherichia coli^SCT',
        ),
      ).toMatchObject({
        kind: 'CODED',
        coded: { system: 'urn:test:SCT', code: '3092008', display: 'Staphylococcus aureus' },
        text: 'Staphylococcus aureus (3092008); Escherichia coli (112283007)',
      });
    });

    it('reads a coded value sent as text only as a string', () => {
      expect(read('1|CWE|UCOL^Urine color^L||^Straw')).toMatchObject({
        kind: 'STRING',
        text: 'Straw',
      });
    });
  });

  describe('strings and text', () => {
    it('reads ST with escapes decoded, and repetitions as lines', () => {
      expect(read('1|ST|UCOL^Urine color^L||Straw \\T\\ clear')).toMatchObject({
        kind: 'STRING',
        text: 'Straw & clear',
      });
      expect(read('1|ST|X^X^L||one~two')).toMatchObject({ kind: 'STRING', text: 'one\ntwo' });
    });

    it('reads an ST that is a (compared) number as numeric', () => {
      expect(read('15|ST|TRIG^Triglycerides^L||>400')).toMatchObject({
        kind: 'NUMERIC',
        numeric: 400,
        comparator: '>',
      });
    });

    it('renders TX/FT formatting as readable text', () => {
      expect(
        read(
          '1|FT|CMT^Comment^L||Line one.\\.br\\Results \\F\\ flags \\E\\ notes.\\.br\\\\.in+2\\Indented',
        ),
      ).toEqual({
        kind: 'TEXT',
        numeric: null,
        comparator: null,
        coded: null,
        text: 'Line one.\nResults | flags \\ notes.\n  Indented',
      });
      expect(read('1|TX|CMT^Comment^L||First~Second')).toMatchObject({
        kind: 'TEXT',
        text: 'First\nSecond',
      });
    });

    it('keeps dates and identifiers as sent', () => {
      expect(read('1|DT|X^X^L||20261115')).toMatchObject({ kind: 'STRING', text: '20261115' });
    });
  });

  describe('empty and unsupported', () => {
    it.each([
      '1|NM|GLU^Glucose^L||',
      '1|NM|GLU^Glucose^L',
      '1|NM|GLU^Glucose^L||""',
      '1||GLU^Glucose^L||',
    ])('%j is NONE', (fields) => {
      expect(read(fields)).toEqual({
        kind: 'NONE',
        numeric: null,
        comparator: null,
        coded: null,
        text: null,
      });
    });

    it('refuses a value without a value type, pointing at OBX-2', () => {
      const error = failure('1||GLU^Glucose^L||5');
      expect(error.message).toBe('OBX-2 (value type) is empty but OBX-5 has a value');
      expect(error.field).toBe(2);
    });

    it('refuses value types a lab result cannot carry', () => {
      const error = failure('1|ED|PDF^Report^L||^application^pdf^Base64^JVBERi0=');
      expect(error.message).toMatch(/^value type ED is not supported for lab results/);
      expect(error.field).toBe(2);
    });
  });
});

describe('parseComparedNumber', () => {
  it('reads plain and compared numbers only', () => {
    expect(parseComparedNumber('>400')).toEqual({ value: 400, comparator: '>' });
    expect(parseComparedNumber('12')).toEqual({ value: 12, comparator: null });
    expect(parseComparedNumber('positive')).toBeUndefined();
  });
});

describe('parseReferenceRange', () => {
  it.each([
    ['3.5-5.0', 3.5, 5],
    ['3.5 - 5.0', 3.5, 5],
    ['70 to 99', 70, 99],
    ['-2-3', -2, 3],
    ['-5 - -1', -5, -1],
    ['<5', null, 5],
    ['<= 200', null, 200],
    ['>10', 10, null],
    ['>=40', 40, null],
    ['Negative', null, null],
    ['<1:40', null, null],
    ['5.0-3.5', null, null],
    ['', null, null],
  ])('%j → low %s, high %s', (range, low, high) => {
    expect(parseReferenceRange(range)).toEqual({ low, high });
  });
});
