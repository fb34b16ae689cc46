import { DeadLetterHeaders, MessageHeaders } from '@ancillary/contracts';
import type { KafkaMessage } from 'kafkajs';
import { readDeadLetter, ReplayHeaders, replayHeaders } from './dead-letter.record';

function deadLetter(headers: Record<string, string>): KafkaMessage {
  return {
    key: Buffer.from('MRN-TEST-1'),
    value: Buffer.from([0, 0, 0, 0, 1, 2]),
    timestamp: '1764115200000',
    attributes: 0,
    offset: '17',
    headers,
  };
}

const provenance = {
  [MessageHeaders.messageControlId]: 'CTRL-1',
  [MessageHeaders.sourceSystem]: 'LIS-MAIN',
  [MessageHeaders.correlationId]: 'corr-1',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  [DeadLetterHeaders.originalTopic]: 'lab.hl7-inbound.v1',
  [DeadLetterHeaders.originalPartition]: '3',
  [DeadLetterHeaders.originalOffset]: '1234',
  [DeadLetterHeaders.originalTimestamp]: '1764115100000',
  [DeadLetterHeaders.errorClass]: 'UnmappedCodeError',
  [DeadLetterHeaders.errorCode]: 'UNMAPPED_CODE',
  [DeadLetterHeaders.errorMessage]: 'local code GLU-X of TESTLAB has no LOINC mapping',
  [DeadLetterHeaders.attempts]: '1',
  [DeadLetterHeaders.service]: 'normalizer',
  [DeadLetterHeaders.failedAt]: '2025-11-26T00:00:00.000Z',
};

describe('readDeadLetter', () => {
  it('parses the provenance and the message identity', () => {
    const record = readDeadLetter('lab.hl7-inbound.v1.dlt', 0, deadLetter(provenance));
    expect(record).toMatchObject({
      topic: 'lab.hl7-inbound.v1.dlt',
      partition: 0,
      offset: '17',
      timestamp: new Date(1764115200000),
      originalTopic: 'lab.hl7-inbound.v1',
      originalPartition: 3,
      originalOffset: '1234',
      originalTimestamp: new Date(1764115100000),
      errorClass: 'UnmappedCodeError',
      errorCode: 'UNMAPPED_CODE',
      attempts: 1,
      service: 'normalizer',
      failedAt: new Date('2025-11-26T00:00:00.000Z'),
      messageControlId: 'CTRL-1',
      sourceSystem: 'LIS-MAIN',
      replayCount: 0,
    });
    expect(record.replayedFrom).toBeUndefined();
  });

  it('leaves out what is absent or malformed instead of guessing', () => {
    const record = readDeadLetter(
      't.dlt',
      0,
      deadLetter({
        [DeadLetterHeaders.originalPartition]: 'three',
        [DeadLetterHeaders.failedAt]: 'soon',
      }),
    );
    expect(record.originalTopic).toBeUndefined();
    expect(record.originalPartition).toBeUndefined();
    expect(record.failedAt).toBeUndefined();
  });
});

describe('replayHeaders', () => {
  it('keeps the original headers, drops the provenance, adds where it was replayed from', () => {
    const record = readDeadLetter('lab.hl7-inbound.v1.dlt', 0, deadLetter(provenance));
    expect(replayHeaders(record)).toEqual({
      [MessageHeaders.messageControlId]: 'CTRL-1',
      [MessageHeaders.sourceSystem]: 'LIS-MAIN',
      [MessageHeaders.correlationId]: 'corr-1',
      traceparent: provenance.traceparent,
      [ReplayHeaders.replayedFrom]: 'lab.hl7-inbound.v1.dlt/0/17',
      [ReplayHeaders.replayCount]: '1',
    });
  });

  it('counts replays of a record that failed again after a replay', () => {
    const record = readDeadLetter(
      'lab.hl7-inbound.v1.dlt',
      0,
      deadLetter({
        ...provenance,
        [ReplayHeaders.replayedFrom]: 'lab.hl7-inbound.v1.dlt/0/3',
        [ReplayHeaders.replayCount]: '2',
      }),
    );
    expect(record.replayedFrom).toBe('lab.hl7-inbound.v1.dlt/0/3');
    expect(replayHeaders(record)[ReplayHeaders.replayCount]).toBe('3');
    expect(replayHeaders(record)[ReplayHeaders.replayedFrom]).toBe('lab.hl7-inbound.v1.dlt/0/17');
  });
});
