/**
 * Placer order numbers for orders the EHR sent without one. The number travels as ORC-2 / OBR-2
 * (EI, entity identifier) to ancillaries that may speak HL7 v2.3, so it stays within 20
 * characters of upper-case letters and digits: no HL7 delimiter to escape, nothing a receiver
 * could fold or trim. Numbers sort by creation time, which helps whoever reads an ancillary's
 * worklist or a log next to the chart.
 */
import { randomInt } from 'node:crypto';

/** The longest placer number generated: fits ORC-2.1 / OBR-2.1 of every HL7 v2 version. */
export const PLACER_NUMBER_MAX_LENGTH = 20;

const PREFIX = 'ORD';
/** Base-36 milliseconds: 9 digits cover dates up to the year 5188. */
const TIME_DIGITS = 9;
const RANDOM_DIGITS = PLACER_NUMBER_MAX_LENGTH - PREFIX.length - TIME_DIGITS;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * `ORD` + the time in base-36 milliseconds (9 characters) + 8 random base-36 characters
 * (41 bits): e.g. `ORD0MB4W2K1QX7G2A9PZ`. Two numbers of the same millisecond collide with a
 * chance of one in 2.8 trillion, and the repository refuses a duplicate placer number anyway.
 */
export function newPlacerOrderNumber(now: Date = new Date()): string {
  const time = now.getTime().toString(36).toUpperCase().padStart(TIME_DIGITS, '0');
  let random = '';
  for (let i = 0; i < RANDOM_DIGITS; i++) random += ALPHABET.charAt(randomInt(ALPHABET.length));
  return `${PREFIX}${time}${random}`;
}
