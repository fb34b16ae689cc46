/**
 * Stable codes of {@link NormalizationError}, for metric labels, dead-letter headers and tests.
 *
 * There is deliberately no "no observations" code: an order group with an OBR and no OBX is a
 * valid ORU^R01 (a cancelled order, a status-only update) and is mapped with no observations.
 */
export type NormalizationErrorCode =
  /** MSH-9 is not ORU^R01. */
  | 'unsupported-message-type'
  /** The segments do not form an ORU^R01 (OBX before OBR, ORC without OBR…). */
  | 'invalid-structure'
  /** MSH-4 is empty: without the sending facility no local code can be mapped. */
  | 'missing-sending-facility'
  /** No PID, or PID-3 without any identifier value. */
  | 'missing-patient-identifier'
  /** Neither a placer (ORC-2/OBR-2) nor a filler (ORC-3/OBR-3) order number. */
  | 'missing-order-number'
  /** OBR-4 or OBX-3 is empty. */
  | 'missing-code'
  /** A code, unit or flag the terminology has no row for; `cause` is the UnmappedCodeError. */
  | 'unmapped-code'
  /** OBX-3/OBR-4 sends a LOINC next to the local code, and the table maps the local code elsewhere. */
  | 'conflicting-code'
  /** A value that does not fit its type: OBX-5 `abc` as NM, OBX-1 `x`, PID-8 `Female`… */
  | 'invalid-value'
  /** A date/time that is not a valid HL7 DTM. */
  | 'invalid-timestamp'
  /** A numeric result in a unit its LOINC's critical ranges are not defined in. */
  | 'unit-mismatch'
  // The codes below are raised by the order flows (@ancillary/order-normalization).
  /** A value the event cannot do without is absent (RXD-3 dispense time, RXD-4 quantity…). */
  | 'missing-value'
  /** An imaging order group with no report text (no TX/FT/ST OBX) that is not cancelled. */
  | 'missing-report-text'
  /** A dispense without an NDC (RXD-2, or a MedicationDispense coding of the NDC system). */
  | 'missing-ndc'
  /** ORC-1 of an ORM/OML is not a status (SC, OC, OD, OH…): e.g. a new order (NW) from the filler. */
  | 'unsupported-order-control'
  /** A FHIR payload that is not JSON. */
  | 'invalid-json'
  /** A FHIR payload that is JSON but not the expected resource, or breaks its cardinalities. */
  | 'invalid-resource';

/** Where in the message the problem is. Every member is null when it does not apply. */
export interface NormalizationErrorLocation {
  /** Segment ID, e.g. `OBX`. */
  readonly segment: string | null;
  /** 1-based occurrence of the segment in the message (the third OBX is 3), as ERR-2.2 counts. */
  readonly segmentIndex: number | null;
  /** 1-based field number, e.g. 5 for OBX-5. */
  readonly field: number | null;
  /** 0-based order group (OBR) the problem is in; the LabResult `orderIndex`. */
  readonly orderIndex: number | null;
  /** OBX-1 of the observation the problem is in. */
  readonly setId: number | null;
}

/**
 * A message that cannot become canonical events (lab results, imaging reports, dispenses,
 * order statuses). Always permanent (`retriable = false`):
 * the same bytes fail the same way every time, so the normalizer dead-letters the message at
 * once with `message` as the reason, and the message is replayed after the sender or the
 * terminology is fixed. The message names the place (`OBX-5 (order group 1, OBX set id 3)`)
 * and the reason in words a lab analyst can act on; it never contains patient names or
 * identifiers.
 */
export class NormalizationError extends Error implements NormalizationErrorLocation {
  readonly retriable = false;
  readonly code: NormalizationErrorCode;
  readonly segment: string | null;
  readonly segmentIndex: number | null;
  readonly field: number | null;
  readonly orderIndex: number | null;
  readonly setId: number | null;

  constructor(
    code: NormalizationErrorCode,
    reason: string,
    location: Partial<NormalizationErrorLocation> = {},
    cause?: unknown,
  ) {
    super(`${describeLocation(location)}${reason}`, cause === undefined ? undefined : { cause });
    this.name = 'NormalizationError';
    this.code = code;
    this.segment = location.segment ?? null;
    this.segmentIndex = location.segmentIndex ?? null;
    this.field = location.field ?? null;
    this.orderIndex = location.orderIndex ?? null;
    this.setId = location.setId ?? null;
  }
}

/** `OBX-5 (order group 1, OBX set id 3): ` — order groups counted from 1 for people. */
function describeLocation(location: Partial<NormalizationErrorLocation>): string {
  if (!location.segment) return '';
  const field = location.field ? `${location.segment}-${location.field}` : location.segment;
  const context: string[] = [];
  if (location.orderIndex !== undefined && location.orderIndex !== null) {
    context.push(`order group ${location.orderIndex + 1}`);
  }
  if (location.setId !== undefined && location.setId !== null) {
    context.push(`OBX set id ${location.setId}`);
  }
  return `${field}${context.length > 0 ? ` (${context.join(', ')})` : ''}: `;
}
