/**
 * What the audit expects of one record of the lab inbound topic: which LabResult events it
 * must have produced. An ORU^R01 yields one LabResult per order group (OBR), identified by
 * labResultEventId(sourceSystem, MSH-10, orderIndex, payloadDigest) — the same id the normalizer computes.
 */
import { labResultEventId, payloadDigest, type RawHl7Envelope } from '@ancillary/contracts';
import { Hl7Message, readOruR01, type FallbackCharset } from '@ancillary/hl7-core';

/** The message type whose results must reach the chart; anything else is "not a result". */
export const RESULT_MESSAGE_TYPE = 'ORU^R01';

export interface InboundMessage {
  partition: number;
  offset: string;
  /** The record timestamp. */
  timestamp: Date;
  sourceSystem?: string;
  messageControlId?: string;
  /** MSH-9.1^MSH-9.2 as the gateway read it. */
  messageType?: string;
  /** When the gateway received it (the envelope's receivedAt). */
  receivedAt?: Date;
  /** One event id per order group, by order index; absent when they cannot be computed. */
  expectedEventIds?: string[];
  /** Why the expected events cannot be computed (undecodable envelope, unparseable HL7). */
  problem?: string;
}

/** `<sourceSystem>\0<MSH-10>`: the identity the platform de-duplicates on. */
export function identityOf(sourceSystem: string, controlId: string): string;
export function identityOf(
  sourceSystem: string | undefined,
  controlId: string | undefined,
): string | undefined;
export function identityOf(
  sourceSystem: string | undefined,
  controlId: string | undefined,
): string | undefined {
  return sourceSystem !== undefined && controlId !== undefined
    ? `${sourceSystem}\u0000${controlId}`
    : undefined;
}

/** The charset the gateway decoded with, as a fallback for the parser (it accepted the bytes). */
function fallbackOf(charset: string): FallbackCharset | undefined {
  switch (charset.toLowerCase().replace(/[^a-z0-9]/g, '')) {
    case 'utf8':
      return 'utf-8';
    case 'iso88591':
    case 'latin1':
      return 'latin1';
    case 'windows1252':
    case 'cp1252':
      return 'windows-1252';
    default:
      return undefined;
  }
}

/**
 * The expectation for a decoded envelope: the event ids of its order groups, or the reason
 * they cannot be computed. Pure: no I/O.
 */
export function expectedResults(
  envelope: RawHl7Envelope,
): Pick<InboundMessage, 'expectedEventIds' | 'problem'> {
  if (envelope.messageType !== RESULT_MESSAGE_TYPE) return {};
  try {
    const fallbackCharset = fallbackOf(envelope.charset);
    const message = Hl7Message.parse(envelope.payload, fallbackCharset ? { fallbackCharset } : {});
    const orders = readOruR01(message).patientResults.flatMap((result) => result.orders);
    return {
      expectedEventIds: orders.map((_order, orderIndex) =>
        labResultEventId(
          envelope.sourceSystem,
          envelope.messageControlId,
          orderIndex,
          payloadDigest(envelope.payload),
        ),
      ),
    };
  } catch (error) {
    return {
      problem: `the HL7 payload cannot be read as ORU^R01 (${error instanceof Error ? error.message : String(error)})`,
    };
  }
}
