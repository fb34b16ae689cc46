/**
 * Deterministic resource ids and lock keys. A business identifier (a filler order number, a
 * placer order number, a patient identifier) always maps to the same FHIR id, so a replayed
 * or redelivered result lands on the resources it produced the first time, in this database or
 * in a fresh one rebuilt from the topic.
 */
import { createHash } from 'node:crypto';

const SEPARATOR = '\u0000';

/** RFC 9562 version 5 (name-based, SHA-1) UUID of the joined name parts. */
export function nameBasedId(...parts: string[]): string {
  const bytes = createHash('sha1').update(parts.join(SEPARATOR), 'utf8').digest().subarray(0, 16);
  bytes.writeUInt8((bytes.readUInt8(6) & 0x0f) | 0x50, 6);
  bytes.writeUInt8((bytes.readUInt8(8) & 0x3f) | 0x80, 8);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The 64-bit key of a transaction-scoped advisory lock for a business key. Two writers that
 * touch the same patient identifier, order or report take the same lock and run one after the
 * other; a hash collision only serialises two unrelated writers, it never lets two related ones
 * race.
 */
export function advisoryLockKey(name: string): bigint {
  return createHash('sha1').update(name, 'utf8').digest().readBigInt64BE(0);
}

/** Lock name of a business identifier of a resource type (patient identifier, order number). */
export function identifierLockName(resourceType: string, system: string, value: string): string {
  return `identifier${SEPARATOR}${resourceType}${SEPARATOR}${system}${SEPARATOR}${value}`;
}

/** Lock name of one resource. */
export function resourceLockName(resourceType: string, id: string): string {
  return `resource${SEPARATOR}${resourceType}${SEPARATOR}${id}`;
}

/** FHIR id syntax: https://hl7.org/fhir/R4/datatypes.html#id */
export const FHIR_ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;
