import { createHash } from 'node:crypto';

/**
 * The MSH-10 of the message that carries an order event: `O` and the first 19 hexadecimal
 * characters (upper case) of the SHA-256 of the event id — 20 characters, the MSH-10 limit of
 * HL7 v2.3 (ST 20), letters and digits only.
 *
 * Deterministic on purpose: when an ACK is lost (timeout, dropped connection) the consumer
 * retries the record and the ancillary receives the very same control id again, which is what
 * receivers de-duplicate on (HL7 v2.5.1 ch. 2.10.1, "sequence number protocol" aside, MSH-10 is
 * the message's identity). 76 bits of hash make a collision between two orders negligible.
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch02.html#Heading137 MSH-10
 */
export function orderControlId(eventId: string): string {
  const digest = createHash('sha256').update(eventId, 'utf8').digest('hex');
  return `O${digest.slice(0, 19).toUpperCase()}`;
}
