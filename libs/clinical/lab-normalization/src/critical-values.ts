import { criticalAlertId, type CriticalAlert, type LabResult } from '@ancillary/contracts';
import type { CriticalRangeEntry, Terminology } from '@ancillary/terminology';
import type { LabObservation } from './lab-result.types';

/** What decides whether an observation is critical. */
export type CriticalInput = Pick<LabObservation, 'code' | 'value' | 'unit' | 'interpretation'>;

/** Why an observation is critical (empty: it is not), or why that cannot be decided. */
export interface CriticalAssessment {
  /** `flag HH`, `Potassium 6.8 mmol/L above critical high 6.2 mmol/L`… */
  readonly reasons: readonly string[];
  /**
   * Set when the value is numeric, its LOINC has critical ranges, but none in the value's unit:
   * comparing 3.1 mmol/L with limits in mg/dL would be wrong either way.
   */
  readonly unitMismatch: { readonly rangeUnits: readonly (string | null)[] } | null;
}

/**
 * Decides whether an observation is a critical (panic) value: an interpretation that comes
 * from a critical flag (flags.csv `critical = Y`: HH, LL, AA), or a numeric value beyond the
 * critical range of its LOINC in the same UCUM unit (critical-ranges.csv). Limits are
 * exclusive (K < 2.8 or > 6.2). A comparator is honoured: `>500` is above a high of 450, `>400`
 * is not known to be, `<0.01` is below nothing it could be above.
 */
export function assessCritical(
  observation: CriticalInput,
  terminology: Terminology,
): CriticalAssessment {
  const reasons: string[] = [];
  for (const interpretation of observation.interpretation) {
    if (terminology.isCriticalInterpretation(interpretation.code)) {
      reasons.push(`flag ${interpretation.code}`);
    }
  }
  const { value } = observation;
  if (value.kind !== 'NUMERIC' || value.numeric === null) return { reasons, unitMismatch: null };
  const ranges = terminology.criticalRangesFor(observation.code.code);
  if (ranges.length === 0) return { reasons, unitMismatch: null };
  const unit = observation.unit?.code ?? null;
  const range = ranges.find((r) => r.ucumUnit === unit);
  if (!range) return { reasons, unitMismatch: { rangeUnits: ranges.map((r) => r.ucumUnit) } };
  const breach = rangeBreach(value.numeric, value.comparator, range);
  if (breach) {
    const limit = breach === 'low' ? range.criticalLow : range.criticalHigh;
    reasons.push(
      `${range.description} ${formatQuantity(value.numeric, value.comparator, unit)} ${breach === 'low' ? 'below critical low' : 'above critical high'} ${formatQuantity(limit ?? 0, null, unit)}`,
    );
  }
  return { reasons, unitMismatch: null };
}

function rangeBreach(
  v: number,
  comparator: string | null,
  range: CriticalRangeEntry,
): 'low' | 'high' | null {
  const low = range.criticalLow;
  const high = range.criticalHigh;
  if (low !== null) {
    // The true value is below `low` for certain: v < low, or `<v` with v <= low, or `<=v` with v < low.
    if (
      (comparator === null && v < low) ||
      (comparator === '<' && v <= low) ||
      (comparator === '<=' && v < low)
    ) {
      return 'low';
    }
  }
  if (high !== null) {
    if (
      (comparator === null && v > high) ||
      (comparator === '>' && v >= high) ||
      (comparator === '>=' && v > high)
    ) {
      return 'high';
    }
  }
  return null;
}

/** `6.8 mmol/L`, `>400 mg/dL`, `5.2` (no unit). */
export function formatQuantity(
  value: number,
  comparator: string | null,
  unit: string | null,
): string {
  return `${comparator ?? ''}${value}${unit ? ` ${unit}` : ''}`;
}

/** The value of an observation as a person reads it, with comparator and unit. */
function readableValue(observation: LabObservation): string {
  const { value } = observation;
  switch (value.kind) {
    case 'NUMERIC':
      return formatQuantity(value.numeric ?? 0, value.comparator, observation.unit?.code ?? null);
    case 'CODED':
      return value.text ?? value.coded?.display ?? value.coded?.code ?? '';
    case 'STRING':
    case 'TEXT':
      return value.text ?? '';
    case 'NONE':
      return '(no value)';
  }
}

/**
 * One CriticalAlert per critical observation of a result, for the critical-alerts topic.
 * `alertId` is `criticalAlertId(eventId, setId)`: a redelivered or replayed result raises the
 * same alert id, so a consumer notifies a clinician once. `reason` says which rule fired,
 * recomputed with `terminology` (pass the one the result was normalized with).
 */
export function criticalAlerts(
  result: LabResult,
  raisedAt: number,
  terminology: Terminology,
): CriticalAlert[] {
  const patient = result.patient.identifiers[0];
  if (!patient) {
    throw new RangeError(`LabResult ${result.eventId} has no patient identifier`);
  }
  const alerts: CriticalAlert[] = [];
  for (const observation of result.observations) {
    if (!observation.critical) continue;
    const { reasons } = assessCritical(observation, terminology);
    const criticalFlag = observation.interpretation.find((i) =>
      terminology.isCriticalInterpretation(i.code),
    );
    alerts.push({
      alertId: criticalAlertId(result.eventId, observation.setId),
      resultEventId: result.eventId,
      sourceSystem: result.sourceSystem,
      messageControlId: result.messageControlId,
      patientIdentifier: patient.value,
      patientIdentifierSystem: patient.system,
      highPriority: result.highPriority,
      placerOrderNumber: result.order.placerOrderNumber,
      fillerOrderNumber: result.order.fillerOrderNumber,
      priority: result.order.priority,
      observationSetId: observation.setId,
      loincCode: observation.code.code,
      display: observation.code.display,
      value: readableValue(observation),
      numeric: observation.value.kind === 'NUMERIC' ? observation.value.numeric : null,
      unit: observation.unit?.code ?? null,
      interpretation: (criticalFlag ?? observation.interpretation[0])?.code ?? null,
      reason:
        reasons.length > 0
          ? reasons.join('; ')
          : `critical when normalized; no rule of terminology ${terminology.version} fires for it now`,
      observedAt: observation.observedAt,
      raisedAt,
    });
  }
  return alerts;
}
