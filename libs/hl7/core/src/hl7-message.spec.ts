import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hl7EncodeError } from './hl7.errors';
import { Hl7Message } from './hl7-message';
import { HL7_NULL, type Hl7Segment } from './hl7-segment';
import { expectParseError } from '../test/expect-parse-error';

const FIXTURES = join(__dirname, '..', 'fixtures');
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));
const parseFixture = (name: string): Hl7Message => Hl7Message.parse(fixture(name));

/** Every single-message fixture (batches and broken inputs excluded). */
const MESSAGE_FIXTURES = readdirSync(FIXTURES).filter(
  (f) => f.endsWith('.hl7') && !f.startsWith('batch'),
);

describe('Hl7Message.parse over the fixture corpus', () => {
  it('has the fixtures it claims to have', () => {
    expect(MESSAGE_FIXTURES.length).toBeGreaterThanOrEqual(11);
  });

  it.each(MESSAGE_FIXTURES)('%s: round-trips to the same bytes and the same text', (name) => {
    const bytes = fixture(name);
    const message = Hl7Message.parse(bytes);
    expect(Buffer.from(message.toBytes()).equals(bytes)).toBe(true);
    // Re-encoding from text (as after an edit) gives the same bytes too.
    expect(Buffer.from(message.charsetCodec.encode(message.toString())).equals(bytes)).toBe(true);
    // And the text parses to the same text.
    const again = Hl7Message.parse(message.toString());
    expect(again.toString()).toBe(message.toString());
    expect(again.segmentCount).toBe(message.segmentCount);
  });

  it('reads MSH and header getters of a v2.5.1 ORU', () => {
    const m = parseFixture('oru-r01-v251-cbc.hl7');
    expect(m.controlId).toBe('BKR000000042');
    expect(m.messageType).toBe('ORU^R01');
    expect(m.messageStructure).toBe('ORU_R01');
    expect(m.version).toBe('2.5.1');
    expect(m.charset).toBe('UTF-8');
    expect(m.lineEnding).toBe('\r');
    expect(m.get('MSH-1')).toBe('|');
    expect(m.get('MSH-2')).toBe('^~\\&');
    expect(m.get('MSH-3')).toBe('BEAKER');
    expect(m.get('MSH-4.2')).toBe('2.16.840.1.113883.3.999');
    expect(m.get('MSH-9.1')).toBe('ORU');
    expect(m.get('MSH-9.3')).toBe('ORU_R01');
    expect(m.get('MSH-15')).toBe('AL');
    expect(m.get('MSH-21.3')).toBe('2.16.840.1.113883.9.20');
    expect(m.getRaw('MSH-9')).toBe('ORU^R01^ORU_R01');
  });

  it('reads repetitions, components and subcomponents by path', () => {
    const m = parseFixture('oru-r01-v251-cbc.hl7');
    expect(m.get('PID-3')).toBe('E1234567');
    expect(m.get('PID-3[1].5')).toBe('MR');
    expect(m.get('PID-3[2].1')).toBe('900112233');
    expect(m.get('PID-3[2].4')).toBe('USSSA');
    expect(m.get('PID-3[3].1')).toBeUndefined();
    expect(m.get('PID-5[2].1')).toBe('SMITH');
    expect(m.get('PID-13[2].4')).toBe('jane.doe@example.org');
    expect(m.segment('PID')?.repetitionCount(3)).toBe(2);
    expect(m.segment('PID')?.getRepetitions(3)).toEqual(['E1234567', '900112233']);
    expect(m.get('OBR-4.2')).toBe('CBC panel - Blood by Automated count');
    expect(m.get('SFT-1.6.2')).toBe('1.2.840');
    expect(m.get('OBX-23.6.2')).toBe('2.16.840.1.113883.4.7');
    expect(m.get('SPM-2.1.2')).toBe('BEAKER');
  });

  it('reads every OBX-5 with flags: numeric, comparator, coded, string, FT and TX', () => {
    const m = parseFixture('oru-r01-v251-cbc.hl7');
    expect(m.getAll('OBX-5')).toEqual([
      '23.4',
      '3.10',
      '6.1',
      '19.0',
      '88',
      '612',
      '>',
      '278149003',
      'Straw & clear',
      'Peripheral smear reviewed.\\.br\\Marked leukocytosis with left shift.\\.br\\\\.sp\\\\.in+2\\Comment: results | flags verified \\ released.',
      'Line one of comment',
      '3092008',
    ]);
    expect(m.getAll('OBX-8')).toEqual(['HH', 'L', 'LL', 'LL', 'N', 'H', 'H', '', '', '', '', '']);
    expect(m.get('OBX[7]-5.2')).toBe('400');
    expect(m.getRaw('OBX[7]-5')).toBe('>^400');
    expect(m.get('OBX[8]-5.2')).toBe('Blood group A Rh(D) positive (finding)');
    expect(m.get('OBX[12]-5[2].2')).toBe('Escherichia coli');
    expect(m.getText('OBX[10]-5')).toBe(
      'Peripheral smear reviewed.\nMarked leukocytosis with left shift.\n\n  Comment: results | flags verified \\ released.',
    );
    expect(m.getText('OBX[11]-5')).toBe('Line one of comment\nLine two of comment');
    expect(m.segment('OBX', 3)?.get(8)).toBe('LL');
  });

  it('keeps the v2.3 comparator value and abnormal flags as sent', () => {
    const m = parseFixture('oru-r01-v23-chemistry.hl7');
    expect(m.version).toBe('2.3');
    expect(m.charset).toBe('US-ASCII');
    expect(m.segments('OBX')).toHaveLength(15);
    expect(m.get('OBX[15]-5')).toBe('>400');
    expect(m.get('OBX[15]-7')).toBe('<150');
    expect(m.get('OBX[5]-8')).toBe('L');
    expect(m.get('OBX[3]-8')).toBe('');
    expect(m.get('OBR-15.1.2')).toBe('Blood'); // v2.3 SPS: CE in the first component
    expect(m.get('NTE[2]-3')).toBe('Repeat on diluted specimen if clinically indicated.');
  });

  it('reads charges (DFT^P03) and pharmacy values (RDE^O11) by path', () => {
    const dft = parseFixture('dft-p03-v25-charges.hl7');
    expect(dft.messageType).toBe('DFT^P03');
    expect(dft.getAll('FT1-7')).toEqual(['85027', '82947']);
    expect(dft.get('FT1[2]-7.2')).toBe('GLUCOSE, QUANT');
    expect(dft.get('FT1-11.1.1')).toBe('45.00');
    expect(dft.get('FT1-11.1.2')).toBe('USD');
    expect(dft.get('EVN-1')).toBe('P03');
    const rde = parseFixture('rde-o11-v25-pharmacy.hl7');
    expect(rde.get('RXE[2]-2.2')).toBe('Acetaminophen 500 mg tablet');
    expect(rde.get('TQ1-3.2')).toBe('Every 8 hours');
    expect(rde.get('RXR[2]-2.2')).toBe('Left arm');
  });

  it('keeps empty, HL7 null ("") and absent apart', () => {
    const m = parseFixture('adt-a01-v24-zsegment.hl7');
    const zpi = m.segment('ZPI');
    expect(zpi?.get(3)).toBe(HL7_NULL); // ""
    expect(zpi?.get(4)).toBe(''); // present, empty
    expect(zpi?.get(5)).toBe(''); // the trailing separator makes ZPI-5 present
    expect(zpi?.get(6)).toBeUndefined(); // absent
    expect(zpi?.fieldCount).toBe(5);
    expect(m.get('ZPI-2.2')).toBe('Very important person');
    expect(m.get('ZPI-2.3')).toBeUndefined();
    expect(m.get('ZZZ-1')).toBeUndefined();
    expect(m.get('PID[2]-1')).toBeUndefined();
  });

  it('reads \\n and \\r\\n terminated messages and keeps their terminators', () => {
    const orm = parseFixture('orm-o01-v23-radiology-lf.hl7');
    expect(orm.lineEnding).toBe('\n');
    expect(orm.segmentCount).toBe(10);
    expect(orm.get('OBR[2]-4.2')).toBe('CT ABD & PELVIS W CONTRAST');
    const oml = parseFixture('oml-o21-v251-crlf.hl7');
    expect(oml.lineEnding).toBe('\r\n');
    expect(oml.segmentCount).toBe(12);
    expect(oml.get('OBR[2]-4.1')).toBe('4548-4');
    expect(oml.segments().every((s) => !s.toString().includes('\r'))).toBe(true);
  });

  it('decodes Latin-1 (MSH-18 8859/1) from raw bytes', () => {
    const bytes = fixture('oru-r01-v25-latin1.hl7');
    expect(bytes.includes(0xe9)).toBe(true); // é as one raw byte, not UTF-8
    const m = Hl7Message.parse(bytes);
    expect(m.charset).toBe('ISO-8859-1');
    expect(m.get('MSH-4')).toBe('HÔPITAL GÉNÉRAL');
    expect(m.get('PID-5.2')).toBe('RENÉE');
    expect(m.get('PID-5.3')).toBe('ZOË');
    expect(m.get('OBX[1]-3.2')).toBe('Glycémie à jeun');
    expect(m.get('OBX[2]-5')).toBe('Échantillon prélevé à 8h; résultat contrôlé < 5 min');
  });

  it('takes a plain Uint8Array (not a Buffer) and a view into a larger buffer', () => {
    const bytes = fixture('oru-r01-v25-latin1.hl7');
    const plain = new Uint8Array(bytes);
    const m = Hl7Message.parse(plain);
    expect(m.get('PID-5.2')).toBe('RENÉE');
    expect(m.toBytes()).toBe(plain);
    const framed = new Uint8Array([0x0b, ...bytes, 0x1c, 0x0d]);
    const view = framed.subarray(1, framed.length - 2);
    expect(Hl7Message.parse(view).get('OBX[2]-3.2')).toBe('Commentaire');
  });

  it('decodes UTF-8, hex escapes in the message charset, and keeps invalid escapes intact', () => {
    const m = parseFixture('oru-r01-v251-utf8.hl7');
    expect(m.charset).toBe('UTF-8');
    expect(m.get('PID-5')).toBe('WÓJCIK');
    expect(m.get('PID-11.3')).toBe('ŁÓDŹ');
    expect(m.get('OBX[2]-5')).toBe('検体は溶血しています \\X E2\\ 🩸 Hämolyse; €12 fee');
    expect(m.get('OBX[3]-5')).toBe('café'); // \XC3A9\ is é in UTF-8
  });

  it('reads a v2.7 message with a truncation character', () => {
    const m = parseFixture('oru-r01-v27-truncation.hl7');
    expect(m.delimiters.truncation).toBe('#');
    expect(m.get('MSH-2')).toBe('^~\\&#');
    expect(m.get('OBX-5')).toBe('Order #42 noted.');
  });

  it('tolerates a lone escape character', () => {
    const m = parseFixture('rde-o11-v25-pharmacy.hl7');
    expect(m.get('RXC-2.2')).toBe('Sodium chloride 0.9\\%');
  });

  it('tolerates leading junk, blank lines, trailing terminators and a trailing file separator', () => {
    const text = '\x0b\r\nMSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\r\r\nPID|1||X\r\n\r\n\x1c\r';
    const m = Hl7Message.parse(text);
    expect(m.segmentCount).toBe(2);
    expect(m.get('PID-3')).toBe('X');
    expect(m.toString()).toBe(text);
  });

  it('keeps a stray LF inside a value of a CR-terminated message, but not between segments', () => {
    const text =
      'MSH|^~\\&|A|B|C|D|1||ORU^R01|9|P|2.5\rOBX|1|TX|||line one\nline two||\rNTE|1\nNTE|2\r\n';
    const m = Hl7Message.parse(text);
    expect(m.segments().map((s) => s.name)).toEqual(['MSH', 'OBX', 'NTE', 'NTE']);
    expect(m.get('OBX-5')).toBe('line one\nline two');
    expect(m.getAll('NTE-1')).toEqual(['1', '2']);
    expect(m.toString()).toBe(text);
  });

  it('reads a message without a final terminator, and a segment without fields', () => {
    const m = Hl7Message.parse('MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rZZZ');
    expect(m.segment(1)?.name).toBe('ZZZ');
    expect(m.get('ZZZ-1')).toBeUndefined();
    expect(m.segment(1)?.fieldCount).toBe(0);
  });

  it('uses a fallback charset per sender, and refuses invalid bytes without one', () => {
    const bytes = fixture('broken/undeclared-windows-1252.hl7');
    const error = expectParseError(() => Hl7Message.parse(bytes));
    expect(error.code).toBe('CHARSET');
    expect(error.hl7ErrorCode).toBe('102');
    expect(error.segment).toBe('PID');
    expect(error.field).toBe(5);
    expect(error.message).toContain('MSH-18 is empty');
    const m = Hl7Message.parse(bytes, { fallbackCharset: 'windows-1252' });
    expect(m.charset).toBe('windows-1252');
    expect(m.get('PID-5')).toBe('O\u2019BRIEN');
    expect(m.get('OBX-5')).toBe('€12');
    expect(Buffer.from(m.toBytes()).equals(bytes)).toBe(true);
    // Latin-1 cannot hold the curly quote byte as such, but every byte is a Latin-1 character.
    expect(Hl7Message.parse(bytes, { fallbackCharset: 'latin1' }).get('PID-5')).toBe('O\x92BRIEN');
  });

  it('falls back when the bytes are invalid in the declared charset', () => {
    const bytes = fixture('broken/utf8-declared-latin1-bytes.hl7');
    const error = expectParseError(() => Hl7Message.parse(bytes));
    expect(error.code).toBe('CHARSET');
    expect(error).toMatchObject({ segment: 'PID', segmentIndex: 1, position: 2, field: 5 });
    expect(error.message).toMatch(/0xdc at offset \d+ \(PID-5\) is not valid UTF-8/);
    expect(expectParseError(() => Hl7Message.parse(bytes, { fallbackCharset: 'utf-8' })).code).toBe(
      'CHARSET',
    );
    const m = Hl7Message.parse(bytes, { fallbackCharset: 'latin1' });
    expect(m.charset).toBe('ISO-8859-1');
    expect(m.get('PID-5.2')).toBe('RENÉE');
  });

  it('refuses an unsupported MSH-18 charset rather than guessing', () => {
    const error = expectParseError(() =>
      Hl7Message.parse(
        Buffer.from('MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||ISO IR87\rPID|1\r'),
      ),
    );
    expect(error).toMatchObject({ code: 'UNSUPPORTED_CHARSET', field: 18, hl7ErrorCode: '103' });
  });
});

describe('Hl7Message.parse on broken input', () => {
  it('no MSH', () => {
    const error = expectParseError(() => Hl7Message.parse(fixture('broken/no-msh.hl7')));
    expect(error.code).toBe('NO_MSH');
    expect(error.message).toContain('"PID|1||E');
  });

  it('wrong delimiters', () => {
    const error = expectParseError(() => Hl7Message.parse(fixture('broken/wrong-delimiters.hl7')));
    expect(error).toMatchObject({ code: 'DELIMITERS', segment: 'MSH', field: 2 });
    for (const bad of ['MSH|^~\\', 'MSH|^~\\&AB|x', 'MSHA^~\\&|', 'MSH|^~\\|x', 'MSH']) {
      expect(expectParseError(() => Hl7Message.parse(bad)).code).toBe('DELIMITERS');
    }
  });

  it('MSH with fewer than 12 fields names MSH-9/10/12', () => {
    const error = expectParseError(() => Hl7Message.parse(fixture('broken/truncated-msh.hl7')));
    expect(error).toMatchObject({
      code: 'REQUIRED_FIELD',
      hl7ErrorCode: '101',
      segment: 'MSH',
      field: 9,
    });
    expect(error.message).toBe(
      'MSH has 7 fields; MSH-9 (message type), MSH-10 (message control id), MSH-12 (version id) are missing',
    );
    const noVersion = expectParseError(() => Hl7Message.parse('MSH|^~\\&|A|B|C|D|1||ADT^A01|9|P'));
    expect(noVersion.message).toContain('MSH-12 (version id) is missing');
    expect(noVersion.field).toBe(12);
  });

  it('a version that is not 2.x', () => {
    const error = expectParseError(() =>
      Hl7Message.parse('MSH|^~\\&|A|B|C|D|1||ADT^A01|9|P|3.0\r'),
    );
    expect(error).toMatchObject({ code: 'UNSUPPORTED_VERSION', hl7ErrorCode: '203', field: 12 });
  });

  it('binary garbage', () => {
    expect(
      expectParseError(() => Hl7Message.parse(fixture('broken/binary-garbage.bin'))).code,
    ).toBe('NO_MSH');
    const header = Buffer.from('MSH|^~\\&|A|B|C|D|1||ADT^A01|9|P|2.5\r');
    const withGarbage = Buffer.concat([header, fixture('broken/binary-garbage.bin')]);
    expect(['CHARSET', 'SEGMENT']).toContain(
      expectParseError(() => Hl7Message.parse(withGarbage)).code,
    );
  });

  it('a line that is not a segment', () => {
    const error = expectParseError(() =>
      Hl7Message.parse('MSH|^~\\&|A|B|C|D|1||ORU^R01|9|P|2.5\rOBX|1|TX|||one\rline two|\r'),
    );
    expect(error).toMatchObject({ code: 'SEGMENT', position: 3 });
    // In an LF-terminated message, LF ends segments whatever follows.
    const lf = 'MSH|^~\\&|A|B|C|D|1||ORU^R01|9|P|2.5\nOBX|1|TX|||one\nline two|\n';
    expect(expectParseError(() => Hl7Message.parse(lf)).code).toBe('SEGMENT');
  });

  it('several messages, or a batch, are not one message', () => {
    const two = 'MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rMSH|^~\\&|A|B|C|D|1||ADT^A01|2|P|2.5\r';
    expect(expectParseError(() => Hl7Message.parse(two)).code).toBe('MULTIPLE_MESSAGES');
    expect(expectParseError(() => Hl7Message.parse(fixture('batch-fhs-bhs.hl7'))).code).toBe(
      'BATCH',
    );
  });

  it('empty input', () => {
    expect(expectParseError(() => Hl7Message.parse('')).code).toBe('EMPTY');
    expect(expectParseError(() => Hl7Message.parse(new Uint8Array(0))).code).toBe('EMPTY');
    expect(expectParseError(() => Hl7Message.parse('\r\n\x1c')).code).toBe('EMPTY');
  });

  it('refuses an input over the size limit before reading it', () => {
    const error = expectParseError(() =>
      Hl7Message.parse(new Uint8Array(2048), { maxBytes: 1024 }),
    );
    expect(error.code).toBe('TOO_LARGE');
  });

  it('parses a 10 MB frame in linear time', () => {
    const obx = Array.from(
      { length: 60_000 },
      (_, i) => `OBX|${i + 1}|NM|GLU^Glucose^L||${i % 500}|mg/dL|70-99|N|||F\r`,
    ).join('');
    const text = `MSH|^~\\&|A|B|C|D|1||ORU^R01|BIG|P|2.5.1\rPID|1||X\rOBR|1|||P\r${obx}`;
    const bytes = Buffer.from(text);
    expect(bytes.length).toBeGreaterThan(2_900_000);
    const big = Buffer.concat([bytes, bytes.subarray(bytes.indexOf('OBX'))]);
    const padded = Buffer.concat([
      big,
      Buffer.from(`ZZZ|${'x'.repeat(10_000_000 - big.length)}\r`),
    ]);
    const started = performance.now();
    const m = Hl7Message.parse(padded);
    const values = m.getAll('OBX-5');
    expect(values).toHaveLength(120_000);
    expect(values[119_999]).toBe(String(59_999 % 500));
    expect(m.toBytes()).toBe(padded);
    expect(performance.now() - started).toBeLessThan(3000);
    // Field-less segments and blank lines between segments must not make field reads quadratic.
    const sparse = Hl7Message.parse(
      `MSH|^~\\&|A|B|C|D|1||ORU^R01|S|P|2.5\r${'OBX|1|ST|||v\r'.repeat(1000)}${'ZZZ\r\r   \r'.repeat(400_000)}OBX|2\r`,
    );
    const sparseStarted = performance.now();
    expect(sparse.getAll('ZZZ-1').every((v) => v === undefined)).toBe(true);
    expect(sparse.getAll('OBX-6')).toHaveLength(1001);
    expect(sparse.get('OBX[1001]-1')).toBe('2');
    expect(performance.now() - sparseStarted).toBeLessThan(1500); // ~0.1 s; quadratic: ~6 s
    // One 10 MB field: the field scanner must not go quadratic either.
    const huge = Hl7Message.parse(
      `MSH|^~\\&|A|B|C|D|1||ORU^R01|H|P|2.5\rOBX|1|ED|||${'A'.repeat(10_000_000)}\r`,
    );
    expect(huge.get('OBX-5')?.length).toBe(10_000_000);
  });
});

describe('Hl7Message editing', () => {
  it('creates a message with the builder and escapes values on set', () => {
    const m = Hl7Message.create({
      messageType: 'ORU^R01^ORU_R01',
      controlId: 'CTRL1',
      sendingApplication: 'LIS',
      sendingFacility: 'LAB^1.2.3^ISO',
      receivingApplication: 'EHR',
      now: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
    });
    m.set('PID-3', 'MRN1').set('PID-3.4', 'HOSP').set('PID-5', ['DOE', 'JANE']);
    m.set('PID-3[2].1', 'SSN|1');
    m.addSegment('OBR', ['1', 'ORD1', '', ['GLU', 'Glucose', 'L']]);
    m.addSegment('OBX', ['1', 'ST', ['X', 'Comment'], '', 'A^B & C ~ D \\ E | F']);
    m.setText('OBX-5', 'line 1\nline 2');
    m.set('OBX[2]-5', 'second');
    expect(m.toString().split('\r')).toEqual([
      'MSH|^~\\&|LIS|LAB^1.2.3^ISO|EHR||20240102030405+0000||ORU^R01^ORU_R01|CTRL1|P|2.5.1',
      'PID|||MRN1^^^HOSP~SSN\\F\\1||DOE^JANE',
      'OBR|1|ORD1||GLU^Glucose^L',
      'OBX|1|ST|X^Comment||line 1\\.br\\line 2',
      'OBX|||||second',
      '',
    ]);
    expect(m.get('PID-3[2]')).toBe('SSN|1');
    expect(m.getText('OBX-5')).toBe('line 1\nline 2');
    expect(m.modified).toBe(true);
    const reparsed = Hl7Message.parse(m.toBytes());
    expect(reparsed.toString()).toBe(m.toString());
    m.set('OBX[1]-5', 'A^B & C ~ D \\ E | F\r\n');
    expect(Hl7Message.parse(m.toString()).get('OBX-5')).toBe('A^B & C ~ D \\ E | F\r\n');
  });

  it('creates MSH with charset, acknowledgement types and other delimiters', () => {
    const m = Hl7Message.create({
      messageType: 'ORM^O01',
      version: '2.3',
      controlId: 'C9',
      charset: '8859/1',
      acceptAckType: 'AL',
      applicationAckType: 'NE',
      delimiters: { field: '*', component: '%', repetition: '$', escape: '@', subcomponent: '!' },
      lineEnding: '\n',
      now: new Date(0),
    });
    expect(m.toString()).toBe(
      'MSH*%$@!*****19700101000000+0000**ORM%O01*C9*P*2.3***AL*NE**8859/1\n',
    );
    expect(m.charset).toBe('ISO-8859-1');
    m.set('PID-5', 'MÜLLER*%');
    expect(m.getRaw('PID-5')).toBe('MÜLLER@F@@S@');
    expect(Hl7Message.parse(m.toBytes()).get('PID-5')).toBe('MÜLLER*%');
    expect(Hl7Message.create({ messageType: 'ADT^A01' }).controlId).toMatch(/^[0-9A-F]{20}$/);
    expect(() => Hl7Message.create({ messageType: 'ADT^A01', charset: 'BIG-5' })).toThrow(
      TypeError,
    );
  });

  it('keeps untouched segments and their terminators byte for byte after an edit', () => {
    const bytes = fixture('oml-o21-v251-crlf.hl7');
    const m = Hl7Message.parse(bytes);
    m.set('PID-5.2', 'JOAN');
    m.addSegment('ZLB', ['lab note']);
    const expected = bytes
      .toString('latin1')
      .replace('DOE^JANE^MARIE', 'DOE^JOAN^MARIE')
      .concat('ZLB|lab note\r\n');
    expect(Buffer.from(m.toBytes()).toString('latin1')).toBe(expected);
    m.removeSegment(m.segmentCount - 1);
    expect(m.toString({ lineEnding: '\r' })).toBe(
      bytes.toString('latin1').replace('DOE^JANE^MARIE', 'DOE^JOAN^MARIE').replace(/\r\n/g, '\r'),
    );
  });

  it('refuses to set MSH-1/MSH-2 or to add an invalid segment', () => {
    const m = parseFixture('adt-a01-v24-zsegment.hl7');
    expect(() => m.set('MSH-2', 'x')).toThrow(TypeError);
    expect(() => m.addSegment('msh')).toThrow(TypeError);
    expect(() => m.set('PID[3]-1', 'x')).toThrow(RangeError);
    expect(() => m.get('nonsense')).toThrow(TypeError);
  });

  it('refuses to write a character the charset cannot hold', () => {
    const m = parseFixture('oru-r01-v23-chemistry.hl7');
    m.set('PID-5', 'DOË');
    expect(() => m.toBytes()).toThrow(Hl7EncodeError);
    const latin1 = parseFixture('oru-r01-v25-latin1.hl7');
    latin1.set('PID-5.2', 'RENÉE-€');
    expect(() => latin1.toBytes()).toThrow(
      /U\+20AC at character \d+ cannot be written in ISO-8859-1/,
    );
    latin1.set('PID-5.2', 'HÉLÈNE');
    expect(Buffer.from(latin1.toBytes()).includes(Buffer.from([0xc8]))).toBe(true);
  });

  it('reads fields of interleaved segments and after edits consistently (field index cache)', () => {
    const long = 'x'.repeat(40);
    const m = Hl7Message.parse(
      `MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.5\rOBX|1|ST|||${long}\\T\\y\rOBX|2|CWE|||a^b~c&d^e|${long}^z\r`,
    );
    const [first, second] = m.segments('OBX') as [Hl7Segment, Hl7Segment];
    expect(first.get(5)).toBe(`${long}&y`);
    expect(second.get(5, 2, 1, 2)).toBe('d');
    expect(first.get(5, 1, 2)).toBeUndefined();
    expect(second.repetitionCount(5)).toBe(2);
    expect(first.repetitionCount(5)).toBe(1);
    expect(second.get(6, 1, 2)).toBe('z');
    expect(second.get(5, 1, 2)).toBe('b');
    second.set('5[2].2', 'E');
    expect(second.get(5, 2, 2)).toBe('E');
    expect(second.getRaw(5)).toBe('a^b~c&d^E');
    expect(first.get(5)).toBe(`${long}&y`);
  });

  it('iterates segments by name with their index and occurrence', () => {
    const m = parseFixture('oru-r01-v251-cbc.hl7');
    const names = [...m].map((s) => s.name);
    expect(names.slice(0, 6)).toEqual(['MSH', 'SFT', 'PID', 'PD1', 'NTE', 'PV1']);
    const obx = m.segments('OBX');
    expect(obx).toHaveLength(12);
    expect(obx.map((s) => s.get(1))).toEqual(Array.from({ length: 12 }, (_, i) => String(i + 1)));
    const third = obx[2]!;
    expect(m.indexOf(third)).toBe(11);
    expect(m.occurrenceOf(third)).toBe(3);
    expect(m.segment(m.indexOf(third))).toBe(third);
    expect(m.segment(99)).toBeUndefined();
  });
});
