import { buildAck, Hl7Message } from '@ancillary/hl7-core';
import { classifyOrderAck } from './order-ack.classifier';

const msg = (...segments: string[]) => Hl7Message.parse(segments.join('\r'));
const MSH = (type: string, version = '2.5.1') =>
  `MSH|^~\\&|SIMLIS|NWH-LAB|ANCILLARY-HUB|NWH|20260115090001||${type}|A1|P|${version}`;

const order = Hl7Message.parse(
  [
    'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMLIS|NWH-LAB|20260115090000||ORM^O01^ORM_O01|O1|P|2.5.1',
    'PID|1||MRN-1^^^NWH^MR',
    'ORC|NW|PLC-1^ANCILLARY-HUB',
  ].join('\r'),
);
const orderV23 = Hl7Message.parse(
  [
    'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMLIS|NWH-LAB|20260115090000||ORM^O01|O1|P|2.3',
    'PID|1||MRN-1^^^NWH^MR',
  ].join('\r'),
);

describe('classifyOrderAck', () => {
  it('accepts a plain ACK AA; no filler number, no reason', () => {
    expect(classifyOrderAck(buildAck(order, 'AA'))).toEqual({
      outcome: 'accepted',
      ackCode: 'AA',
      reason: null,
      fillerOrderNumber: null,
    });
  });

  it.each([
    ['ORR^O02^ORR_O02', 'ORC|OK|PLC-1^ANCILLARY-HUB|LIS-777^SIMLIS'],
    ['ORL^O22^ORL_O22', 'ORC|OK|PLC-1^ANCILLARY-HUB|LIS-777^SIMLIS||SC'],
    ['RRE^O12^RRE_O12', 'ORC|OK|PLC-1^ANCILLARY-HUB|LIS-777'],
  ])('takes the filler order number from ORC-3 of an %s', (type, orc) => {
    const answer = msg(MSH(type), 'MSA|AA|O1', 'PID|1||MRN-1', orc);
    expect(classifyOrderAck(answer)).toEqual({
      outcome: 'accepted',
      ackCode: 'AA',
      reason: null,
      fillerOrderNumber: 'LIS-777',
    });
  });

  it('accepts CA (enhanced-mode commit accept)', () => {
    expect(classifyOrderAck(msg(MSH('ACK^O01^ACK'), 'MSA|CA|O1')).outcome).toBe('accepted');
  });

  it('rejects AR for good with the ERR-8 user message as the reason (v2.5+)', () => {
    const ack = buildAck(order, 'AR', {
      errors: [{ hl7ErrorCode: '103', segment: 'OBR', field: 4, text: 'Unknown test code CMP' }],
    });
    expect(ack.get('ERR-8')).toBe('Unknown test code CMP');
    expect(classifyOrderAck(ack)).toEqual({
      outcome: 'rejected',
      ackCode: 'AR',
      reason: 'Unknown test code CMP',
      fillerOrderNumber: null,
    });
  });

  it('joins several ERR-8 texts, each once', () => {
    const ack = msg(
      MSH('ACK^O01^ACK'),
      'MSA|AR|O1',
      'ERR||OBR^1^4|103^Table value not found^HL70357|E||||Unknown test code',
      'ERR||PID^1^7|102^Data type error^HL70357|E||||Bad birth date',
      'ERR||PID^1^7|102^Data type error^HL70357|E||||Bad birth date',
    );
    expect(classifyOrderAck(ack).reason).toBe('Unknown test code; Bad birth date');
  });

  it('falls back to MSA-3, then to the ERR-3 code text', () => {
    expect(
      classifyOrderAck(msg(MSH('ACK^O01^ACK'), 'MSA|AR|O1|Patient not registered')).reason,
    ).toBe('Patient not registered');
    expect(
      classifyOrderAck(
        msg(MSH('ACK^O01^ACK'), 'MSA|AR|O1', 'ERR||OBR^1^4|103^Table value not found^HL70357|E'),
      ).reason,
    ).toBe('Table value not found');
    expect(
      classifyOrderAck(msg(MSH('ACK^O01^ACK'), 'MSA|AR|O1', 'ERR||OBR^1^4|103|E')).reason,
    ).toBe('103');
  });

  it('reads a v2.3 reject: the reason from MSA-3 rather than the generic ERR-1 code text', () => {
    const ack = buildAck(orderV23, 'AR', {
      errors: [{ hl7ErrorCode: '207', text: 'Ordering provider unknown' }],
    });
    expect(ack.getRaw('ERR-1')).toBe('^^^207&Application internal error&HL70357');
    expect(classifyOrderAck(ack)).toMatchObject({
      outcome: 'rejected',
      reason: 'Ordering provider unknown',
    });
    // only the ERR-1 code: its text
    expect(
      classifyOrderAck(
        msg(MSH('ACK^O01', '2.3'), 'MSA|AR|O1', 'ERR|OBR^1^4^103&Table value not found'),
      ).reason,
    ).toBe('Table value not found');
  });

  it('treats AE as transient and CE / CR as permanent by default', () => {
    expect(classifyOrderAck(buildAck(order, 'AE')).outcome).toBe('transient');
    expect(classifyOrderAck(buildAck(order, 'CE')).outcome).toBe('rejected');
    expect(classifyOrderAck(buildAck(order, 'CR')).outcome).toBe('rejected');
  });

  it('follows a gateway policy: CE transient, AE permanent', () => {
    const policy = { permanent: ['AR', 'CR', 'AE'], transient: ['CE'] };
    expect(classifyOrderAck(buildAck(order, 'CE'), policy).outcome).toBe('transient');
    expect(classifyOrderAck(buildAck(order, 'AE'), policy).outcome).toBe('rejected');
  });

  it('treats an answer without a known MSA-1 as transient (never revokes on a malformed answer)', () => {
    expect(classifyOrderAck(msg(MSH('ACK^O01^ACK'), 'MSA|ZZ|O1'))).toMatchObject({
      outcome: 'transient',
      ackCode: 'ZZ',
    });
    expect(classifyOrderAck(msg(MSH('ACK^O01^ACK')))).toMatchObject({
      outcome: 'transient',
      ackCode: '',
    });
  });
});
