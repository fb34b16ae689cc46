import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ackModeOf, buildAck, buildRejectForUnparseable } from './ack.builder';
import { readBatch } from './batch.reader';
import { escapeValue } from './escape.codec';
import { Hl7EncodeError, Hl7ParseError } from './hl7.errors';
import type { Hl7Delimiters } from './hl7-delimiters';
import { Hl7Message } from './hl7-message';
import { peekMsh } from './msh.reader';
import { readOrders } from './order.groups';
import { readOruR01 } from './oru-r01.groups';

const FIXTURES = join(__dirname, '..', 'fixtures');
const corpus = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.hl7'))
  .map((f) => readFileSync(join(FIXTURES, f)));

/** Everything the library does with an input; only Hl7ParseError may escape. */
function exercise(input: Uint8Array | string): void {
  let message: Hl7Message;
  try {
    message = Hl7Message.parse(input, { fallbackCharset: 'latin1' });
  } catch (error) {
    if (!(error instanceof Hl7ParseError)) throw error;
    const reject = buildRejectForUnparseable(input, error);
    expect(['AR', 'CR']).toContain(reject.get('MSA-1'));
    return;
  }
  for (const segment of message) {
    segment.get(1);
    segment.get(3, 2, 2, 2);
    segment.getText(5);
    segment.repetitionCount(2);
  }
  message.getAll('OBX-5');
  expect(peekMsh(input)?.controlId).toBeDefined();
  ackModeOf(message);
  buildAck(message, 'AE', { errors: [{ hl7ErrorCode: '207', text: 'x' }] }).toString();
  for (const group of [readOruR01, readOrders]) {
    try {
      group(message);
    } catch (error) {
      if (!(error instanceof Hl7ParseError)) throw error;
    }
  }
  expect(message.toBytes()).toBe(input instanceof Uint8Array ? input : message.toBytes());
  try {
    readBatch(input);
  } catch (error) {
    if (!(error instanceof Hl7ParseError)) throw error;
  }
}

function exerciseText(input: string): void {
  try {
    exercise(input);
  } catch (error) {
    // A parsed string may hold characters its declared charset cannot encode.
    if (!(error instanceof Hl7EncodeError)) throw error;
  }
}

describe('no input crashes the parser', () => {
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), exercise), { numRuns: 300 });
  });

  it('random bytes after a valid MSH', () => {
    const msh = Buffer.from('MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.5.1\r');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (tail) => {
        exercise(Buffer.concat([msh, tail]));
      }),
      { numRuns: 300 },
    );
  });

  it('random text shaped like HL7', () => {
    const token = fc.constantFrom(
      'MSH|^~\\&|',
      'PID|',
      'OBX|',
      'OBR|',
      'ORC|',
      'BHS|^~\\&',
      'BTS|1',
      'FHS|^~\\&',
      'FTS|1',
      '|',
      '^',
      '~',
      '\\',
      '&',
      '#',
      '\r',
      '\n',
      '\r\n',
      '""',
      'ORU^R01',
      '2.5.1',
      '\\F\\',
      '\\X41\\',
      '\\.br\\',
      'é',
      '😀',
      '\x00',
      '\x1c',
      'A',
      '1',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 60 }), (tokens) => {
        exerciseText(tokens.join(''));
      }),
      { numRuns: 500 },
    );
  });

  it('fixtures with random bytes overwritten, inserted or cut', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...corpus),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (original, edits, cut) => {
          const bytes = Buffer.from(original);
          for (const [at, value] of edits) bytes[at % bytes.length] = value;
          exercise(bytes.subarray(0, bytes.length - (cut % 20)));
        },
      ),
      { numRuns: 400 },
    );
  });
});

/** A well-formed message as structure: segment → fields → repetitions → components → subcomponents. */
type Structure = { name: string; fields: string[][][][] }[];

const delimiterSets: Hl7Delimiters[] = [
  { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' },
  { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&', truncation: '#' },
  { field: '*', component: '%', repetition: '$', escape: '@', subcomponent: '!' },
];

const value = fc.string({
  unit: fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
    { weight: 2, arbitrary: fc.constantFrom(...'|^~\\&#*%$@!\r\n"'.split('')) },
    { weight: 1, arbitrary: fc.constantFrom('\\F\\', '\\.br\\', 'é', '€', '日', '🩸') },
  ),
  maxLength: 12,
});
const nonEmpty = <T>(arb: fc.Arbitrary<T>, max: number): fc.Arbitrary<T[]> =>
  fc.array(arb, { minLength: 1, maxLength: max });
const structure: fc.Arbitrary<Structure> = fc.array(
  fc.record({
    name: fc
      .stringMatching(/^[A-Z][A-Z0-9]{2}$/)
      .filter((n) => !['MSH', 'FHS', 'BHS', 'BTS', 'FTS'].includes(n)),
    fields: fc.array(nonEmpty(nonEmpty(nonEmpty(value, 3), 3), 3), { maxLength: 8 }),
  }),
  { maxLength: 8 },
);

function encode(s: Structure, d: Hl7Delimiters, eol: string): string {
  const header = `MSH${d.field}${d.component}${d.repetition}${d.escape}${d.subcomponent}${d.truncation ?? ''}${d.field}APP${d.field}FAC${d.field}${d.field}${d.field}20240101${d.field}${d.field}ORU${d.component}R01${d.field}CTRL${d.field}P${d.field}2.5.1${d.field}${d.field}${d.field}${d.field}${d.field}${d.field}UNICODE UTF-8`;
  const segments = s.map(
    (seg) =>
      seg.name +
      seg.fields
        .map(
          (field) =>
            d.field +
            field
              .map((rep) =>
                rep
                  .map((comp) => comp.map((sub) => escapeValue(sub, d)).join(d.subcomponent))
                  .join(d.component),
              )
              .join(d.repetition),
        )
        .join(''),
  );
  return [header, ...segments].join(eol) + eol;
}

describe('parse ∘ serialise', () => {
  it('is the identity on generated messages, and every value reads back', () => {
    fc.assert(
      fc.property(
        structure,
        fc.constantFrom(...delimiterSets),
        fc.constantFrom('\r', '\n', '\r\n'),
        (s, d, eol) => {
          const text = encode(s, d, eol);
          const bytes = Buffer.from(text, 'utf8');
          const message = Hl7Message.parse(bytes);
          expect(message.toBytes()).toBe(bytes);
          expect(message.toString()).toBe(text);
          expect(Buffer.from(message.charsetCodec.encode(message.toString())).equals(bytes)).toBe(
            true,
          );
          expect(message.segmentCount).toBe(s.length + 1);
          s.forEach((seg, i) => {
            const parsed = message.segment(i + 1);
            expect(parsed?.name).toBe(seg.name);
            expect(parsed?.fieldCount).toBe(seg.fields.length);
            seg.fields.forEach((field, f) => {
              field.forEach((rep, r) => {
                rep.forEach((comp, c) => {
                  comp.forEach((sub, k) => {
                    expect(parsed?.get(f + 1, r + 1, c + 1, k + 1)).toBe(sub);
                  });
                  expect(parsed?.get(f + 1, r + 1, c + 1, comp.length + 1)).toBeUndefined();
                });
              });
            });
          });
          // An edit re-serialises the other segments unchanged.
          const hadZzz = s.some((seg) => seg.name === 'ZZZ');
          message.set('ZZZ[1]-1', 'edited');
          const edited = message.toString();
          if (!hadZzz) expect(edited).toBe(`${text}ZZZ${d.field}edited${eol}`);
          expect(Hl7Message.parse(edited).get('ZZZ-1')).toBe('edited');
        },
      ),
      { numRuns: 300 },
    );
  });
});
