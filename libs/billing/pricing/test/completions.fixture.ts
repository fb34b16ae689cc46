/**
 * Synthetic completions, orders and a small charge master for the pricing tests, shaped like
 * the normalizer's output (invented patients, order numbers, NDCs and prices; LOINC, CPT and
 * ICD-10-CM codes are public facts). Same shape as libs/clinical/fhir-store/test/*.fixture.ts,
 * built here so this lib does not import another lib's tests.
 */
import type {
  ImagingReport,
  LabResult,
  MedicationDispensed,
  OrderEvent,
} from '@ancillary/contracts';
import { parseChargeMaster, type ChargeMaster } from '@ancillary/charge-master';

/** 2026-12-04 10:15 America/New_York (15:15 UTC). */
export const T0 = Date.parse('2026-12-04T15:15:00.000Z');
export const TZ = 'America/New_York';
export const NOW = new Date('2026-12-04T16:00:00.000Z');

const patient = {
  identifiers: [{ value: 'MRN-100001', system: 'urn:hospital:mrn', type: 'MR' }],
  familyName: 'Testperson',
  givenNames: ['Alex'],
  birthDate: '1970-01-31',
  administrativeSex: 'F',
};

const visit = {
  accountNumber: 'ACC-7001',
  visitNumber: 'V-8001',
  patientClass: 'O',
  assignedLocation: null,
};

export function labResult(overrides: Partial<LabResult> = {}): LabResult {
  return {
    eventId: 'lab-result-0001',
    sourceSystem: 'LIS-MAIN',
    messageControlId: 'MSG-0001',
    orderIndex: 0,
    envelopeId: null,
    receivedAt: T0 + 3_600_000,
    patient,
    order: {
      placerOrderNumber: 'PLC-5001',
      fillerOrderNumber: 'FIL-9001',
      code: { system: 'http://loinc.org', code: '51990-0', display: 'Basic metabolic panel' },
      localCode: { system: 'urn:lis:local', code: 'BMP', display: 'Basic metabolic panel' },
      priority: 'routine',
      orderingProvider: 'HOUSE, GREGORY MD (5678)',
    },
    specimen: null,
    status: 'FINAL',
    highPriority: false,
    effectiveAt: T0,
    issuedAt: T0 + 1_800_000,
    observations: [],
    notes: [],
    visit,
    ...overrides,
  };
}

export function imagingReport(overrides: Partial<ImagingReport> = {}): ImagingReport {
  return {
    eventId: 'imaging-report-0001',
    sourceSystem: 'RIS-MAIN',
    messageControlId: 'RIS-0001',
    orderIndex: 0,
    envelopeId: null,
    receivedAt: T0 + 7_200_000,
    patient,
    placerOrderNumber: 'PLC-6001',
    fillerOrderNumber: 'RAD-7001',
    accessionNumber: 'ACC-RAD-7001',
    studyInstanceUid: null,
    procedure: {
      system: 'http://www.ama-assn.org/go/cpt',
      code: '71046',
      display: 'XR chest 2 views',
    },
    localProcedure: { system: 'urn:ris:local', code: 'CXR2', display: 'Chest PA/LAT' },
    modality: 'DX',
    priority: 'routine',
    status: 'FINAL',
    highPriority: false,
    effectiveAt: T0,
    issuedAt: T0 + 3_600_000,
    reportText: 'No acute cardiopulmonary process.',
    findings: null,
    impression: 'No acute cardiopulmonary process.',
    interpreter: 'READER, RADHA (NPI-1234567893)',
    visit,
    ...overrides,
  };
}

export function dispense(overrides: Partial<MedicationDispensed> = {}): MedicationDispensed {
  return {
    eventId: 'dispense-0001',
    sourceSystem: 'PHARM-MAIN',
    messageControlId: 'RX-0001',
    envelopeId: null,
    receivedAt: T0 + 600_000,
    dispenseId: 'DISP-3001',
    patient,
    placerOrderNumber: 'PLC-7001',
    fillerOrderNumber: 'RX-4001',
    ndc: {
      system: 'http://hl7.org/fhir/sid/ndc',
      code: '99902-0201-10',
      display: 'Ceftriaxone 1 g vial',
    },
    rxnorm: null,
    localCode: null,
    quantityValue: 2,
    quantityUnit: 'vial',
    daysSupply: null,
    dispenser: 'PHARMACIST, PAT (RPH-22)',
    dispensedAt: T0,
    status: 'COMPLETED',
    notes: [],
    visit,
    ...overrides,
  };
}

export function orderEvent(overrides: Partial<OrderEvent> = {}): OrderEvent {
  return {
    eventId: 'ServiceRequest/sr-1/_history/1',
    action: 'NEW',
    category: 'LABORATORY',
    destination: 'lis-main',
    lane: 'ROUTINE',
    priority: 'routine',
    resourceType: 'ServiceRequest',
    resourceId: 'sr-1',
    resourceVersion: 1,
    placerOrderNumber: 'PLC-5001',
    placerSystem: 'urn:ehr:placer',
    fillerOrderNumber: null,
    patientId: 'pat-1',
    patient,
    encounterId: null,
    code: { system: 'http://loinc.org', code: '51990-0', display: 'Basic metabolic panel' },
    orderedAt: T0 - 3_600_000,
    publishedAt: T0 - 3_600_000,
    requester: {
      identifier: '1234567893',
      familyName: 'Wilson',
      givenName: 'James',
      display: 'Dr James Wilson',
    },
    reasons: [
      {
        system: 'http://hl7.org/fhir/sid/icd-10-cm',
        code: 'E11.9',
        display: 'Type 2 diabetes mellitus without complications',
      },
      { system: 'http://snomed.info/sct', code: '44054006', display: 'Diabetes mellitus type 2' },
      {
        system: 'http://hl7.org/fhir/sid/icd-10-cm',
        code: 'I10',
        display: 'Essential (primary) hypertension',
      },
    ],
    specimenTypes: [],
    notes: [],
    medication: null,
    ...overrides,
  };
}

const HEADER =
  'charge_code,description,cpt_hcpcs,modifiers,revenue_code,department,unit_price,quantity_multiplier,effective_from,effective_to,trigger_kind,trigger_system,trigger_code';

/** A small charge master: a lab panel by LOINC, one by local code only, a study, two drugs. */
export function testChargeMaster(): ChargeMaster {
  return parseChargeMaster(
    [
      HEADER,
      '30000101,Basic metabolic panel,80048,,0301,LAB-CHEM,42.00,1,2026-01-01,,lab,LOINC,51990-0',
      '30000999,Send-out panel,84999,,0300,LAB-REF,120.00,1,2026-01-01,,lab,LOCAL,SENDOUT1',
      '40000101,XR chest PA and lateral (technical),71046,TC,0324,RAD-XR,185.00,1,2026-01-01,,imaging,CPT,71046',
      '"50000201","Injection, ceftriaxone sodium, per 250 mg",J0696,,0636,PHARM-INJ,6.25,4,2026-01-01,,pharmacy,NDC,99902-0201-10',
      '50000101,Amlodipine 5 mg tablet,,,0250,PHARM,0.45,1,2026-01-01,,pharmacy,RXNORM,308135',
    ].join('\n'),
    '{"version":"test-2026.1"}',
  );
}
