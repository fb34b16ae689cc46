/**
 * Deterministic identifiers of a DFT^P03: the same charge event always gets the same FT1-2,
 * and the same lines the same MSH-10, so a resend after a lost ACK or a replayed topic is
 * recognisable by the billing engine as what it already posted (never a second charge).
 */
import { createHash } from 'node:crypto';

/**
 * Length of a transaction id. HL7 v2.3–2.5.1 give FT1-2 Transaction ID (ST) a maximum length
 * of 12 and FT1-3 Transaction Batch ID (ST) one of 10 (v2.5 ch. 6.5.1.2/6.5.1.3): a credit
 * names the charge it reverses in FT1-3 (see the builder), so every id must fit in 10.
 */
export const TRANSACTION_ID_LENGTH = 10;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const SPACE = 36n ** BigInt(TRANSACTION_ID_LENGTH);

/**
 * FT1-2 of a charge event: 10 base-36 characters (0-9, A-Z) from SHA-256 of the event id.
 *
 * Why a hash and not a counter: the id must be the same whichever instance builds the line and
 * however often, without a shared sequence. 36^10 ≈ 2^51.7 values: among ten million lines
 * the chance that any two collide is about 1.4 % (birthday bound n²/2N), so the billing
 * trigger keeps transaction ids unique in its charge table and would surface a collision as
 * an error rather than have the engine merge two charges.
 */
export function transactionIdFor(eventId: string): string {
  if (eventId.trim() === '') throw new RangeError('transactionIdFor needs a non-empty event id');
  const digest = createHash('sha256').update(eventId, 'utf8').digest();
  let n = digest.readBigUInt64BE(0) % SPACE;
  let id = '';
  for (let i = 0; i < TRANSACTION_ID_LENGTH; i++) {
    id = (ALPHABET[Number(n % 36n)] ?? '0') + id;
    n /= 36n;
  }
  return id;
}

/**
 * MSH-10 for a set of lines: `D` and 19 hex characters of SHA-256 over their transaction ids
 * in order (MSH-10 is ST, 20 characters, v2.5 ch. 2.15.9.10). The same lines in the same order
 * give the same control id, so a resend repeats it (an engine answers a repeated MSH-10 from its
 * de-duplication). `generation` > 0 makes a new message of the same lines: a dead-lettered
 * charge replayed after the fix (its x-replay-count) must be judged again, not answered with
 * the old AR.
 */
export function dftControlId(
  charges: readonly { readonly transactionId: string }[],
  generation = 0,
): string {
  const digest = createHash('sha256');
  for (const c of charges) digest.update(c.transactionId).update('\0');
  if (generation > 0) digest.update(`\u0001${generation}`);
  return `D${digest.digest('hex').slice(0, 19).toUpperCase()}`;
}
