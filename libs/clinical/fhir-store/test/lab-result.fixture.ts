/**
 * Synthetic LabResults for the repository's tests: a basic metabolic panel as a normalizer
 * would produce it from an ORU^R01 (invented patients, local codes and order numbers; LOINC
 * and UCUM codes are public facts).
 */
import { type LabResult, labResultEventId } from '@ancillary/contracts';

type Observation = LabResult['observations'][number];

export const T0 = Date.parse('2026-03-05T08:00:00.000Z');

export function observation(overrides: Partial<Observation> = {}): Observation {
  return {
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
    interpretation: [
      {
        system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
        code: 'H',
        display: 'High',
      },
    ],
    status: 'FINAL',
    observedAt: null,
    notes: [],
    critical: false,
    ...overrides,
  };
}

export interface LabResultOptions {
  sourceSystem?: string;
  messageControlId?: string;
  orderIndex?: number;
  mrn?: string;
  filler?: string | null;
  placer?: string | null;
  receivedAt?: number;
}

export function labResult(
  options: LabResultOptions = {},
  overrides: Partial<LabResult> = {},
): LabResult {
  const sourceSystem = options.sourceSystem ?? 'LIS-MAIN';
  const messageControlId = options.messageControlId ?? 'MSG-0001';
  const orderIndex = options.orderIndex ?? 0;
  return {
    eventId: labResultEventId(sourceSystem, messageControlId, orderIndex, 'store-fixture'),
    sourceSystem,
    messageControlId,
    orderIndex,
    envelopeId: null,
    receivedAt: options.receivedAt ?? T0 + 3_600_000,
    patient: {
      identifiers: [{ value: options.mrn ?? 'MRN-100001', system: 'urn:hospital:mrn', type: 'MR' }],
      familyName: 'Testperson',
      givenNames: ['Alex'],
      birthDate: '1970-01-31',
      administrativeSex: 'F',
    },
    order: {
      placerOrderNumber: options.placer === undefined ? 'PLC-5001' : options.placer,
      fillerOrderNumber: options.filler === undefined ? 'FIL-9001' : options.filler,
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
      identifier: 'SPC-7001',
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
      observation(),
      observation({
        setId: 2,
        code: {
          system: 'http://loinc.org',
          code: '2823-3',
          display: 'Potassium [Moles/volume] in Serum or Plasma',
        },
        localCode: { system: 'urn:lis:local', code: 'K', display: 'Potassium' },
        value: { kind: 'NUMERIC', numeric: 4.1, comparator: null, coded: null, text: null },
        unit: { system: 'http://unitsofmeasure.org', code: 'mmol/L', display: 'mmol/L' },
        referenceRange: '3.5-5.1',
        referenceLow: 3.5,
        referenceHigh: 5.1,
        interpretation: [],
      }),
    ],
    notes: [],
    // An outpatient lab visit (PID-18 account, PV1-19 visit, PV1-2 class, PV1-3 location).
    visit: {
      accountNumber: 'ACCT-500001',
      visitNumber: 'VN-800001',
      patientClass: 'O',
      assignedLocation: 'LAB',
    },
    ...overrides,
  };
}
