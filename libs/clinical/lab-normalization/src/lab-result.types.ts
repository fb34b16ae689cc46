import type { LabResult } from '@ancillary/contracts';

/**
 * Names for the records nested in the generated `LabResult` type (the generator exports only
 * the top-level type), so the mapper's helpers can be typed without re-declaring anything.
 */
export type LabObservation = LabResult['observations'][number];
export type ObservationValue = LabObservation['value'];
export type Coding = LabObservation['code'];
export type ResultStatus = LabResult['status'];
export type PatientRef = LabResult['patient'];
export type PatientIdentifier = PatientRef['identifiers'][number];
export type OrderRef = LabResult['order'];
export type SpecimenRef = NonNullable<LabResult['specimen']>;
/** The patient's account and visit (PID-18, PV1); the same record on every clinical event. */
export type Visit = NonNullable<LabResult['visit']>;
