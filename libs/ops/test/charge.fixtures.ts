/**
 * Synthetic billing inputs for the missed-charge audit tests: the completion events
 * billing-trigger dead-letters (ImagingReport, MedicationDispensed; LabResult is in
 * chart.helpers), a ChargeEvent as the billing sender dead-letters it, and FHIR resources as the
 * chart holds them (ServiceRequest, MedicationDispense, ChargeItem per the ChargeItem contract).
 * All names and identifiers are made up.
 */
import type { ChargeEvent, ImagingReport, MedicationDispensed } from '@ancillary/contracts';
import { randomUUID } from 'node:crypto';

const PATIENT = {
  identifiers: [{ value: 'MRN-TEST-1', system: 'TESTHOSP', type: 'MR' }],
  familyName: 'TESTPATIENT',
  givenNames: ['ALEX'],
  birthDate: null,
  administrativeSex: null,
};

export function imagingReport(placerOrderNumber: string, fillerOrderNumber: string): ImagingReport {
  return {
    eventId: randomUUID(),
    sourceSystem: 'RIS-TEST',
    messageControlId: `IMG-${placerOrderNumber}`,
    orderIndex: 0,
    envelopeId: null,
    receivedAt: Date.now(),
    patient: PATIENT,
    placerOrderNumber,
    fillerOrderNumber,
    accessionNumber: null,
    studyInstanceUid: null,
    procedure: { system: 'http://www.ama-assn.org/go/cpt', code: '99999', display: 'Test study' },
    localProcedure: null,
    modality: 'CT',
    priority: null,
    status: 'FINAL',
    highPriority: false,
    effectiveAt: Date.now(),
    issuedAt: null,
    reportText: 'Synthetic report.',
    findings: null,
    impression: null,
    interpreter: null,
    visit: null,
  };
}

export function medicationDispensed(dispenseId: string): MedicationDispensed {
  return {
    eventId: randomUUID(),
    sourceSystem: 'PHARM-TEST',
    messageControlId: `RDS-${dispenseId}`,
    envelopeId: null,
    receivedAt: Date.now(),
    dispenseId,
    patient: PATIENT,
    placerOrderNumber: `RX-${dispenseId}`,
    fillerOrderNumber: null,
    ndc: { system: 'http://hl7.org/fhir/sid/ndc', code: '99999-0000-00', display: null },
    rxnorm: null,
    localCode: null,
    quantityValue: 1,
    quantityUnit: null,
    daysSupply: null,
    dispenser: null,
    dispensedAt: Date.now(),
    status: 'COMPLETED',
    notes: [],
    visit: null,
  };
}

export function chargeEvent(
  eventId: string,
  placerOrderNumber: string,
  filler: string,
): ChargeEvent {
  return {
    eventId,
    chargeKey: `${filler}|30000101|2026-12-04`,
    action: 'CHARGE',
    transactionId: eventId.slice(0, 10).toUpperCase(),
    reversesTransactionId: null,
    reversesEventId: null,
    sourceKind: 'LAB',
    patient: PATIENT,
    accountNumber: null,
    visitNumber: null,
    patientClass: null,
    placerOrderNumber,
    fillerOrderNumber: filler,
    dateOfService: Date.now(),
    chargeCode: '30000101',
    description: 'Test panel',
    cptHcpcs: null,
    modifiers: [],
    revenueCode: '0300',
    department: 'LAB',
    quantity: 1,
    unitPriceCents: 1000,
    extendedPriceCents: 1000,
    orderingProvider: null,
    performingProvider: null,
    diagnoses: [],
    ndc: null,
    sourceEventIds: [],
    chargeMasterVersion: 'test',
    createdAt: Date.now(),
  };
}

export function serviceRequest(id: string, placerSystem: string, placer: string, status: string) {
  return {
    resourceType: 'ServiceRequest' as const,
    id,
    status,
    intent: 'order',
    identifier: [{ system: placerSystem, value: placer }],
    code: { coding: [{ system: 'http://loinc.org', code: '24320-4' }] },
    subject: { reference: 'Patient/pat-test-1' },
  };
}

export function medicationDispense(id: string, dispenseId: string, status: string) {
  return {
    resourceType: 'MedicationDispense' as const,
    id,
    status,
    identifier: [{ system: 'urn:ancillary:PHARM-TEST:dispense', value: dispenseId }],
    subject: { reference: 'Patient/pat-test-1' },
    whenHandedOver: new Date().toISOString(),
  };
}

export interface ChargeItemSpec {
  id: string;
  status: 'billable' | 'billed' | 'aborted' | 'entered-in-error';
  chargeEventId: string;
  chargeKey: string;
  placerSystem: string;
  /** Absent for a dispense charge whose prescription is unknown, or a charge with no placer. */
  placer?: string;
  enteredDate?: Date;
  occurrence?: Date;
}

/** A ChargeItem as the ehr-writer writes it (the ChargeItem contract of issue #7). */
export function chargeItem(spec: ChargeItemSpec) {
  return {
    resourceType: 'ChargeItem',
    id: spec.id,
    status: spec.status,
    identifier: [
      { system: 'urn:ancillary:billing:charge-event', value: spec.chargeEventId },
      {
        system: 'urn:ancillary:billing:transaction',
        value: spec.chargeEventId.slice(0, 10).toUpperCase(),
      },
      { system: 'urn:ancillary:billing:charge-key', value: spec.chargeKey },
    ],
    code: {
      coding: [{ system: 'urn:ancillary:charge-master', code: '30000101', display: 'Test panel' }],
    },
    subject: { reference: 'Patient/pat-test-1' },
    occurrenceDateTime: (spec.occurrence ?? new Date()).toISOString(),
    enteredDate: (spec.enteredDate ?? new Date()).toISOString(),
    quantity: { value: 1 },
    priceOverride: { value: 10, currency: 'USD' },
    costCenter: { display: 'LAB' },
    ...(spec.placer !== undefined
      ? {
          supportingInformation: [
            { identifier: { system: spec.placerSystem, value: spec.placer } },
          ],
        }
      : {}),
  };
}
