/**
 * Deterministic identifiers of charge lines. Line n of a charge key always gets the same event
 * id, and with it the same transaction id (FT1-2 = transactionIdFor(eventId) of
 * @ancillary/billing-dft, as the ChargeEvent contract says). A crash between publishing a line
 * and recording it republishes the same ids, and every consumer (the DFT sender, the
 * ehr-writer, the billing engine's own duplicate check) recognises the repeat (ADR 0004, 3).
 */
import { createHash } from 'node:crypto';

function lineName(chargeKey: string, sequence: number): string {
  if (!Number.isInteger(sequence) || sequence < 1) {
    throw new RangeError(`a charge line sequence is a positive integer, not ${sequence}`);
  }
  return `billing-charge-line\u0000${chargeKey}\u0000${sequence}`;
}

/** ChargeEvent.eventId of line `sequence` of `chargeKey`: an RFC 9562 version 5 (name-based) UUID. */
export function chargeEventId(chargeKey: string, sequence: number): string {
  const bytes = createHash('sha1').update(lineName(chargeKey, sequence), 'utf8').digest();
  bytes.writeUInt8((bytes.readUInt8(6) & 0x0f) | 0x50, 6); // version 5
  bytes.writeUInt8((bytes.readUInt8(8) & 0x3f) | 0x80, 8); // RFC 9562 variant
  const hex = bytes.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
