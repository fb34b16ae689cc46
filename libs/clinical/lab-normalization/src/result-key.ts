import type { LabResult } from '@ancillary/contracts';

/**
 * The Kafka key of a LabResult (and of its critical alerts): the patient's first identifier,
 * PID-3 repetition 1 as the LIS sent it (normally the MRN). Everything about one patient then
 * lands on one partition and is consumed in order — a corrected result after the original, a
 * second panel after the first. It is the key the lab gateway gives the raw message (first
 * PID-3 value), so ordering holds from the inbound topic to the chart. Senders must put the
 * same identifier first in every message of a patient; a normalized result always has one
 * (`missing-patient-identifier` otherwise). The same key serves every event that carries a
 * PatientRef (ImagingReport, MedicationDispensed).
 */
export function resultKey(result: Pick<LabResult, 'eventId' | 'patient'>): string {
  const first = result.patient.identifiers[0];
  if (!first) throw new RangeError(`event ${result.eventId} has no patient identifier`);
  return first.value;
}
