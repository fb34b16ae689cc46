/**
 * The canonical MedicationDispensed as a FHIR R4 MedicationDispense
 * (https://hl7.org/fhir/R4/medicationdispense.html): the product as NDC (what was handed over)
 * plus RxNorm where the formulary maps it, quantity, days supply in UCUM days, who dispensed and
 * when, and the MedicationRequest it fills. Pure functions; the writer resolves patient and order.
 */
import type { MedicationDispensed } from '@ancillary/contracts';
import { InvalidClinicalEventError } from './errors';
import {
  coding,
  concept,
  instant,
  NDC_SYSTEM,
  nonEmpty,
  notes,
  type PatientIdentifierKey,
  patientKeys,
  reference,
  RXNORM_SYSTEM,
  UCUM,
} from './event.mapper';
import type { MedicationDispense, Quantity } from './fhir.types';
import { nameBasedId } from './ids';

type DispenseStatus = MedicationDispensed['status'];

/** The pharmacy's dispense identifiers are its own, so scoped to it. */
export function dispenseIdentifierSystem(sourceSystem: string): string {
  return `urn:ancillary:${encodeURIComponent(sourceSystem)}:dispense`;
}

export interface DispenseKeys {
  /** Deterministic from source system + dispenseId: a resend or correction lands on it. */
  medicationDispenseId: string;
  dispenseIdentifier: { system: string; value: string };
  /** The placer order number to look the EHR's MedicationRequest up by. */
  placer?: { system: string; value: string };
  patientIdentifiers: PatientIdentifierKey[];
  newPatientId: string;
}

const invalid = (message: string): Error => new InvalidClinicalEventError(message);

export function dispenseKeys(
  dispense: MedicationDispensed,
  placerOrderSystem: string,
): DispenseKeys {
  const { patientIdentifiers, newPatientId } = patientKeys(dispense.patient, invalid);
  const dispenseId = nonEmpty(dispense.dispenseId);
  if (!dispenseId) throw invalid('dispenseId is empty: a dispense needs the pharmacy identifier');
  if (!nonEmpty(dispense.ndc.code))
    throw invalid('ndc.code is empty: which product was dispensed?');
  if (!Number.isFinite(dispense.quantityValue) || dispense.quantityValue < 0) {
    throw invalid(`quantityValue ${dispense.quantityValue} is not a non-negative number`);
  }
  if (
    dispense.daysSupply !== null &&
    (!Number.isInteger(dispense.daysSupply) || dispense.daysSupply < 0)
  ) {
    throw invalid(`daysSupply ${dispense.daysSupply} is not a non-negative whole number of days`);
  }
  const system = dispenseIdentifierSystem(dispense.sourceSystem);
  const placer = nonEmpty(dispense.placerOrderNumber);
  return {
    medicationDispenseId: nameBasedId('MedicationDispense', system, dispenseId),
    dispenseIdentifier: { system, value: dispenseId },
    ...(placer ? { placer: { system: placerOrderSystem, value: placer } } : {}),
    patientIdentifiers,
    newPatientId,
  };
}

const STATUS: Record<DispenseStatus, MedicationDispense['status']> = {
  COMPLETED: 'completed',
  IN_PROGRESS: 'in-progress',
  CANCELLED: 'cancelled',
  ENTERED_IN_ERROR: 'entered-in-error',
  UNKNOWN: 'unknown',
};

export interface DispenseLinks {
  patientId: string;
  /** The MedicationRequest the dispense fills, when the repository has it. */
  medicationRequestId?: string;
}

export function mapDispense(
  dispense: MedicationDispensed,
  keys: DispenseKeys,
  links: DispenseLinks,
): MedicationDispense {
  const ndc = coding(dispense.ndc, NDC_SYSTEM);
  const rxnorm = coding(dispense.rxnorm, RXNORM_SYSTEM);
  const local = coding(dispense.localCode);
  const text =
    nonEmpty(dispense.rxnorm?.display) ??
    nonEmpty(dispense.ndc.display) ??
    nonEmpty(dispense.localCode?.display);
  const unit = nonEmpty(dispense.quantityUnit);
  const quantity: Quantity = { value: dispense.quantityValue, ...(unit ? { unit } : {}) };
  const dispenser = nonEmpty(dispense.dispenser);
  const handedOver = instant(dispense.dispensedAt, 'dispensedAt', invalid);
  const dispenseNotes = notes(dispense.notes);
  return {
    resourceType: 'MedicationDispense',
    id: keys.medicationDispenseId,
    identifier: [keys.dispenseIdentifier],
    status: STATUS[dispense.status],
    medicationCodeableConcept: concept([ndc, rxnorm, local], text),
    subject: reference('Patient', links.patientId),
    ...(dispenser ? { performer: [{ actor: { display: dispenser } }] } : {}),
    ...(links.medicationRequestId
      ? { authorizingPrescription: [reference('MedicationRequest', links.medicationRequestId)] }
      : {}),
    quantity,
    ...(dispense.daysSupply !== null
      ? { daysSupply: { value: dispense.daysSupply, unit: 'd', system: UCUM, code: 'd' } }
      : {}),
    ...(handedOver ? { whenHandedOver: handedOver } : {}),
    ...(dispenseNotes.length > 0 ? { note: dispenseNotes } : {}),
  };
}
