/**
 * The size of a RawHl7Envelope record as the lab gateway writes it to `lab.hl7-inbound.v1`
 * (Confluent framing: magic byte and schema id, then Avro), for the Kafka ceiling's record size.
 */
import { RawHl7EnvelopeContract, type RawHl7Envelope } from '@ancillary/contracts';
import type { GeneratedMessage } from '@ancillary/simulators';
import avro from 'avsc';
import { randomUUID } from 'node:crypto';

/** Magic byte + 4-byte schema id in front of every record (Confluent wire format). */
const CONFLUENT_HEADER_BYTES = 5;

const envelopeType = avro.Type.forSchema(JSON.parse(RawHl7EnvelopeContract.schema) as avro.Schema);

/** The envelope the gateway would publish for a generated message. */
export function envelopeFor(message: GeneratedMessage, sourceSystem = 'lis-main'): RawHl7Envelope {
  return {
    envelopeId: randomUUID(),
    receivedAt: Date.now(),
    sourceSystem,
    sendingApplication: 'SIMLIS',
    sendingFacility: 'NWH-LAB',
    receivingApplication: 'ANCILLARY-HUB',
    receivingFacility: 'NWH',
    messageControlId: message.controlId,
    messageType: 'ORU^R01',
    messageStructure: message.version === '2.3' ? null : 'ORU_R01',
    hl7Version: message.version,
    charset: message.version === '2.3' ? 'ISO-8859-1' : 'UTF-8',
    payload: message.bytes,
    peerAddress: '127.0.0.1:53124',
  };
}

/** Encoded size in bytes of one envelope record. */
export function encodedEnvelopeBytes(message: GeneratedMessage): number {
  return CONFLUENT_HEADER_BYTES + envelopeType.toBuffer(envelopeFor(message)).length;
}

/** Average encoded envelope size over messages (rounded to a whole byte). */
export function averageEnvelopeBytes(messages: readonly GeneratedMessage[]): number {
  if (messages.length === 0) throw new RangeError('no messages to measure');
  const total = messages.reduce((sum, m) => sum + encodedEnvelopeBytes(m), 0);
  return Math.round(total / messages.length);
}
