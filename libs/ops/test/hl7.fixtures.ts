/**
 * Synthetic HL7 messages and envelopes for the ops tests, built with @ancillary/hl7-core the
 * way an LIS would send them. All names and identifiers are made up.
 */
import { payloadDigest, type RawHl7Envelope } from '@ancillary/contracts';
import { Hl7Message } from '@ancillary/hl7-core';
import { randomUUID } from 'node:crypto';

/** An ORU^R01 with one patient and `orders` order groups (OBR), each with two OBX. */
export function oruR01(controlId: string, orders = 1, patientId = 'MRN-TEST-1'): Hl7Message {
  const message = Hl7Message.create({
    messageType: 'ORU^R01^ORU_R01',
    controlId,
    sendingApplication: 'TESTLIS',
    sendingFacility: 'TESTLAB',
    charset: 'UNICODE UTF-8',
  });
  message.addSegment('PID', [
    '1',
    '',
    [patientId, '', '', 'TESTHOSP', 'MR'],
    '',
    ['TESTPATIENT', 'ALEX'],
  ]);
  for (let i = 0; i < orders; i++) {
    message.addSegment('ORC', ['RE', `PLC${i}`, `FIL${i}`]);
    message.addSegment('OBR', [String(i + 1), `PLC${i}`, `FIL${i}`, ['GLU', 'Glucose', 'L']]);
    message.addSegment('OBX', [
      '1',
      'NM',
      ['GLU', 'Glucose', 'L'],
      '',
      '5.4',
      'mmol/L',
      '3.9-6.1',
      'N',
      '',
      '',
      'F',
    ]);
    message.addSegment('OBX', [
      '2',
      'NM',
      ['NA', 'Sodium', 'L'],
      '',
      '141',
      'mmol/L',
      '135-145',
      'N',
      '',
      '',
      'F',
    ]);
  }
  return message;
}

/** An ADT^A08: not a result, the audit reports it separately. */
export function adtA08(controlId: string): Hl7Message {
  const message = Hl7Message.create({
    messageType: 'ADT^A08^ADT_A01',
    controlId,
    sendingApplication: 'TESTLIS',
  });
  message.addSegment('EVN', ['A08']);
  message.addSegment('PID', ['1', '', 'MRN-TEST-2', '', ['TESTPATIENT', 'SAM']]);
  return message;
}

/** The gateway's envelope for `message`, as published to the inbound topic. */
export function envelopeOf(
  message: Hl7Message,
  sourceSystem: string,
  receivedAt: number = Date.now(),
): RawHl7Envelope {
  const payload = Buffer.from(message.toBytes());
  digests.set(`${sourceSystem}\u0000${message.controlId}`, payloadDigest(payload));
  return {
    envelopeId: randomUUID(),
    receivedAt,
    sourceSystem,
    sendingApplication: message.get('MSH-3') ?? null,
    sendingFacility: message.get('MSH-4') ?? null,
    receivingApplication: null,
    receivingFacility: null,
    messageControlId: message.controlId,
    messageType: message.messageType,
    messageStructure: message.messageStructure || null,
    hl7Version: message.version,
    charset: message.charset,
    payload,
    peerAddress: '127.0.0.1:40000',
  };
}

const digests = new Map<string, string>();

/**
 * The payload digest of the envelope last built for this message (event ids include it), or a
 * stand-in for a ledger row whose message was never put on the topic.
 */
export function digestOf(sourceSystem: string, controlId: string): string {
  return digests.get(`${sourceSystem}\u0000${controlId}`) ?? `no-envelope-${controlId}`;
}
