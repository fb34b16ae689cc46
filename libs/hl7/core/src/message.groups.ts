import { Hl7ParseError } from './hl7.errors';
import type { Hl7Message } from './hl7-message';
import type { Hl7Segment } from './hl7-segment';

/**
 * Shapes shared by the group readers (ORU^R01, ORM/OML/RDE/RDS). Groups hold the segments
 * themselves, so values are read with the usual `segment.get(n)`; nothing is copied.
 * Segments a reader has no slot for (Z-segments, optional segments of other versions) are
 * kept in the `other` list of the innermost open group: nothing is dropped.
 */

/** OBX with its notes (and anything unknown that followed it, e.g. a Z-segment). */
export interface Observation {
  readonly obx: Hl7Segment;
  readonly notes: Hl7Segment[];
  readonly other: Hl7Segment[];
}

/** SPM with the OBX that describe the specimen. */
export interface Specimen {
  readonly spm: Hl7Segment;
  readonly observations: Observation[];
  readonly other: Hl7Segment[];
}

/** PID with what belongs to the patient: PD1, NTE, NK1, PV1/PV2, and AL1, IN1, GT1… in `other`. */
export interface PatientGroup {
  readonly pid: Hl7Segment;
  pd1?: Hl7Segment;
  pv1?: Hl7Segment;
  pv2?: Hl7Segment;
  readonly notes: Hl7Segment[];
  readonly nextOfKin: Hl7Segment[];
  readonly other: Hl7Segment[];
}

/** @internal */
export function newPatient(pid: Hl7Segment): PatientGroup {
  return { pid, notes: [], nextOfKin: [], other: [] };
}

/** @internal */
export function newObservation(obx: Hl7Segment): Observation {
  return { obx, notes: [], other: [] };
}

/** @internal Adds a patient-level segment; false when it is not one. */
export function addToPatient(patient: PatientGroup, segment: Hl7Segment): boolean {
  switch (segment.name) {
    case 'PD1':
      if (patient.pd1) return false;
      patient.pd1 = segment;
      return true;
    case 'PV1':
      if (patient.pv1) return false;
      patient.pv1 = segment;
      return true;
    case 'PV2':
      if (patient.pv2) return false;
      patient.pv2 = segment;
      return true;
    case 'NK1':
      patient.nextOfKin.push(segment);
      return true;
    case 'NTE':
      patient.notes.push(segment);
      return true;
    default:
      return false;
  }
}

/**
 * Walks the segments after MSH with their 1-based occurrence and position, for error
 * locations (ERR-2.2 wants the occurrence of the segment ID).
 * @internal
 */
export function* walk(
  message: Hl7Message,
): Generator<{ segment: Hl7Segment; occurrence: number; position: number }> {
  const seen = new Map<string, number>();
  let position = 0;
  for (const segment of message) {
    position++;
    const occurrence = (seen.get(segment.name) ?? 0) + 1;
    seen.set(segment.name, occurrence);
    if (position > 1) yield { segment, occurrence, position };
  }
}

/** @internal A segment where the message structure does not allow it (table 0357 code 100). */
export function sequenceError(
  at: { segment: Hl7Segment; occurrence: number; position: number },
  reason: string,
): Hl7ParseError {
  return new Hl7ParseError(
    'SEGMENT_SEQUENCE',
    `${at.segment.name} at segment ${at.position}: ${reason}`,
    {
      segment: at.segment.name,
      segmentIndex: at.occurrence,
      position: at.position,
      hl7ErrorCode: '100',
    },
  );
}
