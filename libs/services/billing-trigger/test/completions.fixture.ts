/**
 * Synthetic completions for the billing-trigger's integration tests, built like
 * libs/clinical/fhir-store/test/lab-result.fixture.ts: a final basic metabolic panel (LOINC
 * 51990-0, priced by charge code 30000101 in the starter charge master) for an invented patient
 * and visit, with its own order numbers from the filler number given.
 */
import { labResultEventId, type LabResult } from '@ancillary/contracts';
import { uniqueName } from '@ancillary/testing';

export const T0 = Date.parse('2026-11-20T14:30:00.000Z');

export function labResult(
  mrn: string,
  filler: string,
  overrides: Partial<LabResult> = {},
  messageControlId = uniqueName('MSG'),
  /** Whose test made it: part of the event id, so two suites' results never share one. */
  producer = 'billing-trigger-int',
): LabResult {
  return {
    eventId: labResultEventId('LIS-MAIN', messageControlId, 0, producer),
    sourceSystem: 'LIS-MAIN',
    messageControlId,
    orderIndex: 0,
    envelopeId: null,
    receivedAt: T0 + 3_600_000,
    patient: {
      identifiers: [{ value: mrn, system: 'urn:hospital:mrn', type: 'MR' }],
      familyName: 'Testperson',
      givenNames: ['Alex'],
      birthDate: '1970-01-31',
      administrativeSex: 'F',
    },
    order: {
      placerOrderNumber: `PL-${filler}`,
      fillerOrderNumber: filler,
      code: {
        system: 'http://loinc.org',
        code: '51990-0',
        display: 'Basic metabolic panel - Blood',
      },
      localCode: { system: 'urn:lis:local', code: 'BMP', display: 'Basic metabolic panel' },
      priority: 'routine',
      orderingProvider: 'Dr. Example',
    },
    specimen: {
      identifier: `SPC-${filler}`,
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/v2-0487',
        code: 'SER',
        display: 'Serum',
      },
      collectedAt: T0,
      receivedAt: T0 + 600_000,
    },
    status: 'FINAL',
    highPriority: false,
    effectiveAt: T0,
    issuedAt: T0 + 3_000_000,
    observations: [
      {
        setId: 1,
        code: {
          system: 'http://loinc.org',
          code: '2345-7',
          display: 'Glucose [Mass/volume] in Serum or Plasma',
        },
        localCode: { system: 'urn:lis:local', code: 'GLU', display: 'Glucose' },
        value: { kind: 'NUMERIC', numeric: 182, comparator: null, coded: null, text: null },
        unit: { system: 'http://unitsofmeasure.org', code: 'mg/dL', display: 'mg/dL' },
        referenceRange: '70-99',
        referenceLow: 70,
        referenceHigh: 99,
        interpretation: [],
        status: 'FINAL',
        observedAt: null,
        notes: [],
        critical: false,
      },
    ],
    notes: [],
    visit: {
      accountNumber: `ACCT-${mrn}`,
      visitNumber: `VN-${mrn}`,
      patientClass: 'O',
      assignedLocation: 'LAB',
    },
    ...overrides,
  };
}
