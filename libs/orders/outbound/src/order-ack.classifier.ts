/**
 * What an ancillary's answer to an order means for the order: accepted (the EHR marks it
 * active, with the ancillary's filler number), rejected for good (the EHR marks it revoked,
 * with the reason), or "try again later" (the record waits in Kafka and is resent).
 *
 * MSA-1 (table 0008): AA / CA accept; AR / CR reject for content; AE / CE are errors. Systems
 * differ in what they mean by AE and CE, hence a per-gateway policy; the default treats AE as
 * transient (original mode: "application error, resend") and CE as permanent (enhanced mode
 * commit error: the receiver could not even take it, and most LIS use it for bad content).
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch02.html#Heading36 (2.9 message processing rules)
 * @see https://terminology.hl7.org/CodeSystem-v2-0008.html
 */
import type { Hl7Message } from '@ancillary/hl7-core';

export interface AckPolicy {
  /** MSA-1 codes that mean the order was taken. */
  readonly accepted: readonly string[];
  /** MSA-1 codes that mean it will never be taken as it is. */
  readonly permanent: readonly string[];
  /** MSA-1 codes that mean "not now": the order is resent later. */
  readonly transient: readonly string[];
}

export const DEFAULT_ACK_POLICY: AckPolicy = Object.freeze({
  accepted: ['AA', 'CA'],
  permanent: ['AR', 'CE', 'CR'],
  transient: ['AE'],
});

export interface OrderAckOutcome {
  outcome: 'accepted' | 'rejected' | 'transient';
  /** MSA-1 as sent (upper case); empty when the answer had none. */
  ackCode: string;
  /** ERR-8 user messages, else MSA-3, else the ERR-3 / ERR-1.4 code text; null when none. */
  reason: string | null;
  /** ORC-3.1 of an ORR^O02 / ORL^O22 / RRE^O12 answer; null for a plain ACK. */
  fillerOrderNumber: string | null;
}

/**
 * Classifies an answer by its MSA-1 under a policy. A code the policy does not list (a broken
 * peer, an answer without MSA) is transient: the order waits and is resent while someone looks,
 * rather than being revoked in the EHR on the word of a malformed answer.
 */
export function classifyOrderAck(
  ack: Hl7Message,
  policy: Partial<AckPolicy> = {},
): OrderAckOutcome {
  const p = { ...DEFAULT_ACK_POLICY, ...policy };
  const ackCode = (ack.get('MSA-1') ?? '').trim().toUpperCase();
  const outcome = p.accepted.includes(ackCode)
    ? 'accepted'
    : p.permanent.includes(ackCode)
      ? 'rejected'
      : 'transient';
  return {
    outcome,
    ackCode,
    reason: reasonOf(ack),
    fillerOrderNumber: nonEmpty(ack.segment('ORC')?.get(3)),
  };
}

/**
 * The ancillary's words for a negative answer, most specific first: the ERR-8 user messages
 * (v2.5+), else MSA-3 (text message, up to v2.6; what v2.3/2.4 senders write their reason in),
 * else the error codes' text or value — ERR-3 (v2.5+ CWE) or ERR-1.4 (v2.3/2.4 ELD).
 * Several ERR segments give several texts, each distinct one once, in order.
 */
function reasonOf(ack: Hl7Message): string | null {
  const errs = ack.segments('ERR');
  const userMessages = errs.map((err) => nonEmpty(err.get(8)));
  const codeTexts = errs.map(
    (err) =>
      nonEmpty(err.get(3, 1, 2)) ??
      nonEmpty(err.get(3)) ??
      nonEmpty(err.get(1, 1, 4, 2)) ??
      nonEmpty(err.get(1, 1, 4, 1)),
  );
  for (const candidates of [userMessages, [nonEmpty(ack.get('MSA-3'))], codeTexts]) {
    const texts = [...new Set(candidates.filter((t): t is string => t !== null))];
    if (texts.length > 0) return texts.join('; ');
  }
  return null;
}

function nonEmpty(value: string | undefined): string | null {
  const v = value?.trim();
  return v ? v : null;
}
