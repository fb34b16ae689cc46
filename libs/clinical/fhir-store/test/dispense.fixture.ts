/**
 * Synthetic MedicationDispensed events for the repository's tests: an outpatient fill of
 * metformin as the normalizer would produce it from an RDS^O13 (invented patient, prescription
 * and dispense numbers; the NDC is synthetic, the RxNorm code a public fact).
 */
import type { MedicationDispensed } from '@ancillary/contracts';
import { T0 } from './lab-result.fixture';

export interface DispenseOptions {
  sourceSystem?: string;
  messageControlId?: string | null;
  mrn?: string;
  dispenseId?: string;
  placer?: string | null;
  receivedAt?: number;
}

export function dispensed(
  options: DispenseOptions = {},
  overrides: Partial<MedicationDispensed> = {},
): MedicationDispensed {
  const sourceSystem = options.sourceSystem ?? 'pharmacy-main';
  const messageControlId =
    options.messageControlId === undefined ? 'RX-0001' : options.messageControlId;
  const dispenseId = options.dispenseId ?? 'RX778-1';
  return {
    eventId: `dispense-fixture:${sourceSystem}:${dispenseId}:${messageControlId ?? 'fhir'}`,
    sourceSystem,
    messageControlId,
    envelopeId: null,
    receivedAt: options.receivedAt ?? T0 + 5_400_000,
    dispenseId,
    patient: {
      identifiers: [{ value: options.mrn ?? 'MRN-300001', system: 'urn:hospital:mrn', type: 'MR' }],
      familyName: 'Testperson',
      givenNames: ['Sam'],
      birthDate: '1958-02-02',
      administrativeSex: 'F',
    },
    placerOrderNumber: options.placer === undefined ? 'PLC-M001' : options.placer,
    fillerOrderNumber: 'RX778',
    ndc: {
      system: 'http://hl7.org/fhir/sid/ndc',
      code: '00000-1234-01',
      display: 'Metformin HCl 500 mg tablet',
    },
    rxnorm: {
      system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
      code: '861007',
      display: 'metformin hydrochloride 500 MG Oral Tablet',
    },
    localCode: { system: 'urn:rx:local', code: 'MET500', display: 'Metformin 500mg tab' },
    quantityValue: 60,
    quantityUnit: 'TAB',
    daysSupply: 30,
    dispenser: 'Pharmacist Example',
    dispensedAt: T0 + 5_000_000,
    status: 'COMPLETED',
    notes: [],
    // An outpatient fill: the account and visit, no bed (PID-18, PV1-19, PV1-2).
    visit: {
      accountNumber: 'ACCT-500003',
      visitNumber: 'VN-800003',
      patientClass: 'O',
      assignedLocation: null,
    },
    ...overrides,
  };
}
