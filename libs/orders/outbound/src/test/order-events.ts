/**
 * Synthetic order events for the outbound tests (no real patient, clinician or order).
 */
import type { OrderEvent } from '@ancillary/contracts';

const ORDERED_AT = Date.UTC(2026, 0, 15, 8, 30, 0);

export function labOrder(overrides: Partial<OrderEvent> = {}): OrderEvent {
  return {
    eventId: 'ServiceRequest/sr-1001/_history/1',
    action: 'NEW',
    category: 'LABORATORY',
    destination: 'lis-main',
    lane: 'ROUTINE',
    priority: 'routine',
    resourceType: 'ServiceRequest',
    resourceId: 'sr-1001',
    resourceVersion: 1,
    placerOrderNumber: 'PLC-1001',
    placerSystem: 'urn:ancillary:placer-order',
    fillerOrderNumber: null,
    patientId: 'pat-1',
    patient: {
      identifiers: [
        { value: 'MRN-T-0001', system: 'NWH', type: 'MR' },
        { value: '9990001', system: 'urn:oid:2.16.840.1.113883.4.1', type: 'SS' },
      ],
      familyName: 'Testpatient',
      givenNames: ['Alex', 'Jordan'],
      birthDate: '1980-02-29',
      administrativeSex: 'F',
    },
    encounterId: 'ENC-77',
    code: { system: 'http://loinc.org', code: '24323-8', display: 'Comprehensive metabolic panel' },
    orderedAt: ORDERED_AT,
    publishedAt: ORDERED_AT + 1_000,
    requester: {
      identifier: '1234567893',
      familyName: 'Clinician',
      givenName: 'Casey',
      display: 'Dr Casey Clinician',
    },
    reasons: [
      {
        system: 'http://hl7.org/fhir/sid/icd-10-cm',
        code: 'E11.9',
        display: 'Type 2 diabetes mellitus without complications',
      },
    ],
    specimenTypes: [
      { system: 'http://terminology.hl7.org/CodeSystem/v2-0487', code: 'SER', display: 'Serum' },
    ],
    notes: [],
    medication: null,
    ...overrides,
  };
}

export function imagingOrder(overrides: Partial<OrderEvent> = {}): OrderEvent {
  return labOrder({
    eventId: 'ServiceRequest/sr-2001/_history/1',
    category: 'IMAGING',
    destination: 'ris-main',
    resourceId: 'sr-2001',
    placerOrderNumber: 'PLC-2001',
    code: { system: 'http://www.ama-assn.org/go/cpt', code: '71046', display: 'XR chest 2 views' },
    specimenTypes: [],
    reasons: [
      { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'R05.9', display: 'Cough, unspecified' },
    ],
    ...overrides,
  });
}

export function medicationOrder(overrides: Partial<OrderEvent> = {}): OrderEvent {
  return labOrder({
    eventId: 'MedicationRequest/mr-3001/_history/1',
    category: 'PHARMACY',
    destination: 'pharmacy-main',
    resourceType: 'MedicationRequest',
    resourceId: 'mr-3001',
    placerOrderNumber: 'PLC-3001',
    code: {
      system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
      code: '197361',
      display: 'amlodipine 5 MG Oral Tablet',
    },
    specimenTypes: [],
    reasons: [
      {
        system: 'http://hl7.org/fhir/sid/icd-10-cm',
        code: 'I10',
        display: 'Essential (primary) hypertension',
      },
    ],
    medication: {
      doseValue: 5,
      doseUnit: 'mg',
      route: { system: 'http://snomed.info/sct', code: '26643006', display: 'Oral route' },
      frequency: 'QD',
      quantityValue: 30,
      quantityUnit: 'TAB',
      daysSupply: 30,
      refills: 2,
      instructions: 'Take 1 tablet by mouth once daily',
    },
    ...overrides,
  });
}
