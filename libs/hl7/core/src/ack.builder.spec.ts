import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ackModeOf,
  ackRequested,
  buildAck,
  buildRejectForUnparseable,
  toAckError,
} from './ack.builder';
import { Hl7ParseError } from './hl7.errors';
import { Hl7Message } from './hl7-message';

const fixture = (name: string): Buffer => readFileSync(join(__dirname, '..', 'fixtures', name));
const NOW = new Date(Date.UTC(2024, 2, 16, 10, 20, 30));

function parseFailure(input: Uint8Array | string): Hl7ParseError {
  try {
    Hl7Message.parse(input);
  } catch (error) {
    if (error instanceof Hl7ParseError) return error;
  }
  throw new Error('expected a parse failure');
}

describe('ackModeOf', () => {
  it('is original mode when MSH-15 and MSH-16 are empty', () => {
    expect(ackModeOf(Hl7Message.parse(fixture('oru-r01-v23-chemistry.hl7')))).toEqual({
      enhanced: false,
      accept: undefined,
      application: undefined,
    });
  });

  it('is enhanced mode with the conditions of MSH-15/16', () => {
    expect(ackModeOf(Hl7Message.parse(fixture('oru-r01-v251-cbc.hl7')))).toEqual({
      enhanced: true,
      accept: 'AL',
      application: 'NE',
    });
    const onlyApp = Hl7Message.parse('MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5||||ER\r');
    expect(ackModeOf(onlyApp)).toEqual({ enhanced: true, accept: undefined, application: 'ER' });
  });

  it('says when an acknowledgement is wanted (table 0155)', () => {
    expect([true, false].map((ok) => ackRequested('AL', ok))).toEqual([true, true]);
    expect([true, false].map((ok) => ackRequested('NE', ok))).toEqual([false, false]);
    expect([true, false].map((ok) => ackRequested('ER', ok))).toEqual([false, true]);
    expect([true, false].map((ok) => ackRequested('SU', ok))).toEqual([true, false]);
    expect(ackRequested(undefined, true)).toBe(true);
  });
});

describe('buildAck', () => {
  it('answers AA in the sender version with swapped apps, MSA-2 = control id', () => {
    const original = Hl7Message.parse(fixture('oru-r01-v23-chemistry.hl7'));
    const ack = buildAck(original, 'AA', { now: NOW, controlId: 'ACK1' });
    expect(ack.toString()).toBe(
      'MSH|^~\\&|EPIC|GENHOSP|SUNQ|MAINLAB|20240316102030+0000||ACK^R01|ACK1|P|2.3\r' +
        'MSA|AA|LAB20240315083000001\r',
    );
    expect(ack.messageType).toBe('ACK^R01');
    expect(ack.get('MSA-1')).toBe('AA');
    expect(ack.get('MSA-2')).toBe(original.controlId);
  });

  it('v2.5.1 enhanced mode: CA, MSH-9.3 ACK, MSH-18 kept, one ERR per error with ERL/CWE/severity/text', () => {
    const original = Hl7Message.parse(fixture('oru-r01-v251-cbc.hl7'));
    const ack = buildAck(original, 'CE', {
      now: NOW,
      errors: [
        {
          segment: 'OBX',
          segmentIndex: 3,
          field: 5,
          hl7ErrorCode: '102',
          text: 'Not a number: 6,1',
        },
        {
          segment: 'PID',
          field: 3,
          component: 4,
          hl7ErrorCode: '103',
          severity: 'W',
          text: 'Unknown assigning authority | checked',
        },
        { hl7ErrorCode: '207', text: 'Database unavailable' },
      ],
    });
    expect(ack.get('MSH-3')).toBe('INTERFACE_ENGINE');
    expect(ack.get('MSH-4')).toBe('GENHOSP');
    expect(ack.getRaw('MSH-5')).toBe('BEAKER');
    expect(ack.getRaw('MSH-6')).toBe('GENHOSP^2.16.840.1.113883.3.999^ISO');
    expect(ack.get('MSH-7')).toBe('20240316102030+0000');
    expect(ack.getRaw('MSH-9')).toBe('ACK^R01^ACK');
    expect(ack.controlId).toMatch(/^[0-9A-F]{20}$/);
    expect(ack.controlId).not.toBe(original.controlId);
    expect(ack.get('MSH-11')).toBe('P');
    expect(ack.version).toBe('2.5.1');
    expect(ack.get('MSH-15')).toBe('');
    expect(ack.get('MSH-18')).toBe('UNICODE UTF-8');
    expect(ack.charset).toBe('UTF-8');
    expect(ack.segment('MSA')?.toString()).toBe('MSA|CE|BKR000000042');
    const errs = ack.segments('ERR').map((s) => s.toString());
    expect(errs).toEqual([
      'ERR||OBX^3^5|102^Data type error^HL70357|E||||Not a number: 6,1',
      'ERR||PID^1^3^1^4|103^Table value not found^HL70357|W||||Unknown assigning authority \\F\\ checked',
      'ERR|||207^Application internal error^HL70357|E||||Database unavailable',
    ]);
    expect(ack.get('ERR[2]-8')).toBe('Unknown assigning authority | checked');
  });

  it('v2.3/v2.4: one ERR with repeating ERR-1 (ELD), MSA-3 text and MSA-6', () => {
    const original = Hl7Message.parse(fixture('adt-a01-v24-zsegment.hl7'));
    const ack = buildAck(original, 'AE', {
      now: NOW,
      controlId: 'A2',
      errors: [
        { segment: 'PID', segmentIndex: 1, field: 7, hl7ErrorCode: '102', text: 'Bad birth date' },
        { segment: 'PV1', field: 3, hl7ErrorCode: '101', text: 'No location' },
      ],
    });
    expect(ack.toString().split('\r')).toEqual([
      'MSH|^~\\&|LABADT|MAINLAB|ADT1|GENHOSP|20240316102030+0000||ACK^A01^ACK|A2|P|2.4',
      'MSA|AE|ADT000001|Bad birth date; No location|||102^Data type error^HL70357',
      'ERR|PID^1^7^102&Data type error&HL70357~PV1^1^3^101&Required field missing&HL70357',
      '',
    ]);
    expect(ack.get('ERR-1[2].4.2')).toBe('Required field missing');
  });

  it('v2.7+: no MSA-3 (withdrawn), sender delimiters including the truncation character', () => {
    const original = Hl7Message.parse(fixture('oru-r01-v27-truncation.hl7'));
    const ack = buildAck(original, 'AR', {
      now: NOW,
      text: 'ignored in 2.7',
      errors: [{ hl7ErrorCode: '200', text: 'We do not take ORU#R01' }],
    });
    expect(ack.get('MSH-2')).toBe('^~\\&#');
    expect(ack.segment('MSA')?.toString()).toBe('MSA|AR|T27001');
    expect(ack.segment('ERR')?.getRaw(8)).toBe('We do not take ORU\\P\\R01');
  });

  it('answers with the sender delimiters and segment terminator', () => {
    const text = 'MSH*%$@!*SEND*FAC*RECV*RFAC*20240101**ORU%R01%ORU_R01*C$1*P*2.5.1\nPID*1\n';
    const original = Hl7Message.parse(text);
    expect(original.controlId).toBe('C$1'); // MSH-10 is ST: read whole, even with a stray '$'
    const ack = buildAck(original, 'AA', { now: NOW, controlId: 'X', text: 'fine' });
    expect(ack.toString()).toBe(
      'MSH*%$@!*RECV*RFAC*SEND*FAC*20240316102030+0000**ACK%R01%ACK*X*P*2.5.1\nMSA*AA*C$1*fine\n',
    );
  });

  it('replaces characters the charset cannot hold in diagnostics', () => {
    const original = Hl7Message.parse(fixture('oru-r01-v23-chemistry.hl7'));
    const ack = buildAck(original, 'AE', {
      now: NOW,
      errors: [{ hl7ErrorCode: '207', text: 'Résultat refusé' }],
    });
    expect(ack.get('MSA-3')).toBe('R?sultat refus?');
    expect(() => ack.toBytes()).not.toThrow();
  });

  it('round-trips through toBytes in the sender charset', () => {
    const original = Hl7Message.parse(fixture('oru-r01-v25-latin1.hl7'));
    const ack = buildAck(original, 'AE', {
      now: NOW,
      errors: [{ segment: 'OBX', hl7ErrorCode: '102', text: 'Valeur numérique erronée' }],
    });
    const bytes = Buffer.from(ack.toBytes());
    expect(bytes.includes(0xe9)).toBe(true);
    expect(ack.getRaw('MSH-5')).toBe('LABOSYS');
    expect(Hl7Message.parse(bytes).get('ERR-8')).toBe('Valeur numérique erronée');
  });
});

describe('buildRejectForUnparseable', () => {
  it('reads what it can of MSH and answers AR with the parse error location', () => {
    const input = fixture('broken/truncated-msh.hl7');
    const error = parseFailure(input);
    const ack = buildRejectForUnparseable(input, error, { now: NOW, controlId: 'R1' });
    expect(ack.toString().split('\r')).toEqual([
      'MSH|^~\\&|EHR|HOSP|LIS|LAB|20240316102030+0000||ACK|R1||2.5.1',
      'MSA|AR',
      `ERR||MSH^1^9|101^Required field missing^HL70357|E||||${error.message}`,
      '',
    ]);
  });

  it('echoes control id, version and event; CR when the sender asked for enhanced mode', () => {
    const input = Buffer.from(
      'MSH|^~\\&|LIS|LAB|EHR|HOSP|1||ORU^R01|C77|P|2.4|||AL|NE\rPID|1\rbad line\r',
    );
    const error = parseFailure(input);
    const ack = buildRejectForUnparseable(input, error, { now: NOW, controlId: 'R2' });
    expect(ack.toString().split('\r')).toEqual([
      'MSH|^~\\&|EHR|HOSP|LIS|LAB|20240316102030+0000||ACK^R01^ACK|R2|P|2.4',
      'MSA|CR|C77|Segment 3 does not start with a segment ID and field separator: "bad line"|||100^Segment sequence error^HL70357',
      'ERR|^^^100&Segment sequence error&HL70357',
      '',
    ]);
    expect(buildRejectForUnparseable(input, error, { enhanced: false }).get('MSA-1')).toBe('AR');
  });

  it('answers a charset failure in the sender delimiters', () => {
    const input = fixture('broken/utf8-declared-latin1-bytes.hl7');
    const ack = buildRejectForUnparseable(input, parseFailure(input), { now: NOW });
    expect(ack.get('MSA-2')).toBe('U1');
    expect(ack.getRaw('ERR-2')).toBe('PID^1^5');
    expect(ack.get('ERR-3')).toBe('102');
    expect(ack.get('MSH-18')).toBe('UNICODE UTF-8');
  });

  it('never throws, whatever the input and error', () => {
    const inputs: (Uint8Array | string)[] = [
      '',
      'garbage',
      fixture('broken/binary-garbage.bin'),
      fixture('broken/wrong-delimiters.hl7'),
      'MSH|^~\\&|\u0000\u0001|é|||1||X^Y|\r',
      'MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|9.9\r',
    ];
    for (const input of inputs) {
      const ack = buildRejectForUnparseable(input, new Error('boom'));
      expect(ack.get('MSA-1')).toBe('AR');
      expect(ack.get('ERR-3')).toBe('207');
      expect(Hl7Message.parse(ack.toBytes()).get('MSA-1')).toBe('AR');
    }
    const weird = buildRejectForUnparseable(
      'MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|9.9\r',
      new Error('x'),
    );
    expect(weird.version).toBe('2.5.1');
  });

  it('maps errors to ACK errors', () => {
    expect(toAckError(new Error('boom'))).toEqual({
      hl7ErrorCode: '207',
      severity: 'E',
      text: 'boom',
    });
    expect(toAckError('odd')).toEqual({ hl7ErrorCode: '207', severity: 'E', text: 'odd' });
    const parseError = new Hl7ParseError('SEGMENT_SEQUENCE', 'x', {
      segment: 'OBX',
      segmentIndex: 2,
      field: 5,
      hl7ErrorCode: '100',
    });
    expect(toAckError(parseError)).toEqual({
      segment: 'OBX',
      segmentIndex: 2,
      field: 5,
      hl7ErrorCode: '100',
      severity: 'E',
      text: 'x',
    });
  });
});
