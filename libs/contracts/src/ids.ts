/**
 * Deterministic event ids. A record that is mapped again (a consumer restarted before its
 * commit, a replay from a dead-letter topic, a reprocessing from the start of a topic) gets
 * the same id, so every writer downstream can recognise it and change nothing.
 */
import { createHash } from 'node:crypto';

/** Formats the first 16 bytes of a SHA-1 digest as an RFC 9562 version 5 (name-based) UUID. */
function nameBasedUuid(name: string): string {
  const bytes = createHash('sha1').update(name, 'utf8').digest().subarray(0, 16);
  bytes.writeUInt8((bytes.readUInt8(6) & 0x0f) | 0x50, 6); // version 5
  bytes.writeUInt8((bytes.readUInt8(8) & 0x3f) | 0x80, 8); // RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** SHA-256 of a message's bytes, hex: tells a resend (same bytes) from a reused MSH-10. */
export function payloadDigest(payload: Uint8Array): string {
  return createHash('sha256').update(payload).digest('hex');
}

/**
 * The id of the LabResult for one order group (OBR) of one source message: a message is
 * identified by its ancillary connection, its MSH-10 and the digest of its bytes
 * (`payloadDigest`), a result by its position in it. The digest matters: a LIS that reuses
 * control ids (after a restore, a counter reset) sends a new message under an old MSH-10, and an
 * id from the control id alone would make the repository take the new result for a replay of
 * the old one and leave it out of the chart.
 */
export function labResultEventId(
  sourceSystem: string,
  messageControlId: string,
  orderIndex: number,
  messageDigest: string,
): string {
  return nameBasedUuid(
    `lab-result\u0000${sourceSystem}\u0000${messageControlId}\u0000${messageDigest}\u0000${orderIndex}`,
  );
}

/** The id of the critical-value alert for one observation (OBX-1 set id) of one LabResult. */
export function criticalAlertId(resultEventId: string, observationSetId: number): string {
  return nameBasedUuid(`critical-alert\u0000${resultEventId}\u0000${observationSetId}`);
}
