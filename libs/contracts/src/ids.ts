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

/**
 * SHA-256 (hex) of an HL7 v2 message's bytes with MSH-7 left out: tells a resend from a new
 * message under a reused MSH-10. MSH-7 is the time the message was sent, which some senders
 * stamp anew when they resend, so it is not part of what makes two messages the same.
 */
export function payloadDigest(payload: Uint8Array): string {
  const hash = createHash('sha256');
  const span = msh7Span(payload);
  if (span) {
    hash.update(payload.subarray(0, span.start));
    hash.update(payload.subarray(span.end));
  } else {
    hash.update(payload);
  }
  return hash.digest('hex');
}

/** Where MSH-7's value is in the bytes ([start, end)), when the message starts with MSH. */
function msh7Span(payload: Uint8Array): { start: number; end: number } | undefined {
  // The HL7 parser skips a UTF-8 BOM and blank bytes before MSH; so must the digest, or a
  // sender that prefixes them would have every restamped resend counted as a new message.
  let at = 0;
  for (;;) {
    if (payload[at] === 0xef && payload[at + 1] === 0xbb && payload[at + 2] === 0xbf) at += 3;
    else if ([0x20, 0x0d, 0x0a, 0x09, 0x0b, 0x1c, 0x00].includes(payload[at] ?? -1)) at += 1;
    else break;
  }
  // "MSH" + field separator; MSH-1 is the separator itself, so MSH-7 follows the 6th one.
  if (
    payload.length < at + 4 ||
    payload[at] !== 0x4d ||
    payload[at + 1] !== 0x53 ||
    payload[at + 2] !== 0x48
  ) {
    return undefined;
  }
  const separator = payload[at + 3];
  let seen = 0;
  for (let i = at + 3; i < payload.length; i++) {
    const byte = payload[i];
    if (byte === 0x0d || byte === 0x0a) return undefined; // MSH ends before MSH-7
    if (byte !== separator) continue;
    seen += 1;
    if (seen === 6) {
      let end = i + 1;
      while (end < payload.length) {
        const b = payload[end];
        if (b === separator || b === 0x0d || b === 0x0a) break;
        end += 1;
      }
      return { start: i + 1, end };
    }
  }
  return undefined;
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

/**
 * The id of the ImagingReport for one order group (OBR) of one RIS message: the same scheme as
 * {@link labResultEventId} (connection, MSH-10, digest of the bytes, position), in its own name
 * space so that a report and a lab result never share an id.
 */
export function imagingReportEventId(
  sourceSystem: string,
  messageControlId: string,
  orderIndex: number,
  messageDigest: string,
): string {
  return nameBasedUuid(
    `imaging-report\u0000${sourceSystem}\u0000${messageControlId}\u0000${messageDigest}\u0000${orderIndex}`,
  );
}

/**
 * The id of a MedicationDispensed: the pharmacy's dispense identity (RXD-7 prescription number
 * and RXD-1 sub-id, or the MedicationDispense identifier) on its connection, and the version of
 * what was sent — `payloadDigest()` of an RDS^O13, `resourceDigest()` of a FHIR resource. A
 * resend gives the same id; a corrected dispense under the same identity is a new event.
 */
export function dispenseEventId(sourceSystem: string, dispenseId: string, version: string): string {
  return nameBasedUuid(`dispense\u0000${sourceSystem}\u0000${dispenseId}\u0000${version}`);
}

/**
 * The record key of billing.charges.v1 and billing.charge-status.v1: the patient's first
 * identifier (the MRN), as upstream, so one patient's charges and answers stay in order; the
 * charge key when a line names no patient identifier.
 */
export function chargeRecordKey(charge: {
  readonly patient: { readonly identifiers: readonly { readonly value: string }[] };
  readonly chargeKey: string;
}): string {
  return charge.patient.identifiers[0]?.value ?? charge.chargeKey;
}

/**
 * The id of the OrderStatusChanged for one order group (ORC) of a status message the ancillary
 * sent (ORM/OML with ORC-1 SC, ORR/ORL/RRE): the same scheme as {@link labResultEventId}.
 * (A gateway's answer to an order it sent has its own id, `<orderEventId>#<status>`.)
 */
export function orderStatusEventId(
  sourceSystem: string,
  messageControlId: string,
  orderIndex: number,
  messageDigest: string,
): string {
  return nameBasedUuid(
    `order-status\u0000${sourceSystem}\u0000${messageControlId}\u0000${messageDigest}\u0000${orderIndex}`,
  );
}

/**
 * SHA-256 (hex) of a FHIR resource as canonical JSON — object keys sorted, whitespace dropped —
 * without its top-level `meta` (versionId and lastUpdated are the sender's server's, restamped
 * on a resend): the "what was sent" part of a FHIR event id, as `payloadDigest` is for HL7.
 */
export function resourceDigest(resource: unknown): string {
  const withoutMeta =
    resource !== null && typeof resource === 'object' && !Array.isArray(resource)
      ? Object.fromEntries(Object.entries(resource).filter(([key]) => key !== 'meta'))
      : resource;
  return createHash('sha256').update(canonicalJson(withoutMeta), 'utf8').digest('hex');
}

/** JSON with object keys in code-point order at every level (RFC 8785-like for our needs). */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  // Top-level `undefined` (no JSON value) is written as null, as JSON.stringify does in arrays.
  return value === undefined ? 'null' : JSON.stringify(value);
}
