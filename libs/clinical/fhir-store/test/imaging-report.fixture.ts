/**
 * Synthetic ImagingReports for the repository's tests: a chest X-ray report as the normalizer
 * would produce it from a RIS ORU^R01 (invented patient, accession and order numbers, UIDs under
 * the DICOM example root 1.2.826.0.1.3680043; CPT codes are public facts).
 */
import type { ImagingReport } from '@ancillary/contracts';
import { T0 } from './lab-result.fixture';

export interface ImagingReportOptions {
  sourceSystem?: string;
  messageControlId?: string;
  mrn?: string;
  placer?: string | null;
  filler?: string | null;
  accession?: string | null;
  studyInstanceUid?: string | null;
  receivedAt?: number;
}

export function imagingReport(
  options: ImagingReportOptions = {},
  overrides: Partial<ImagingReport> = {},
): ImagingReport {
  const sourceSystem = options.sourceSystem ?? 'ris-main';
  const messageControlId = options.messageControlId ?? 'RIS-0001';
  return {
    eventId: `imaging-fixture:${sourceSystem}:${messageControlId}:0`,
    sourceSystem,
    messageControlId,
    orderIndex: 0,
    envelopeId: null,
    receivedAt: options.receivedAt ?? T0 + 7_200_000,
    patient: {
      identifiers: [{ value: options.mrn ?? 'MRN-200001', system: 'urn:hospital:mrn', type: 'MR' }],
      familyName: 'Testperson',
      givenNames: ['Robin'],
      birthDate: '1965-07-14',
      administrativeSex: 'M',
    },
    placerOrderNumber: options.placer === undefined ? 'PLC-R001' : options.placer,
    fillerOrderNumber: options.filler === undefined ? 'RAD-9001' : options.filler,
    accessionNumber: options.accession === undefined ? 'ACC-7001' : options.accession,
    studyInstanceUid:
      options.studyInstanceUid === undefined
        ? '1.2.826.0.1.3680043.8.498.10001'
        : options.studyInstanceUid,
    procedure: {
      system: 'http://www.ama-assn.org/go/cpt',
      code: '71046',
      display: 'Radiologic examination, chest; 2 views',
    },
    localProcedure: { system: 'urn:ris:local', code: 'XRCH2', display: 'XR Chest 2 views' },
    modality: 'CR',
    priority: 'routine',
    status: 'FINAL',
    highPriority: false,
    effectiveAt: T0,
    issuedAt: T0 + 3_600_000,
    reportText:
      'EXAM: XR chest, 2 views.\nFINDINGS: Lungs are clear. No effusion.\nIMPRESSION: No acute disease.',
    findings: 'Lungs are clear. No effusion.',
    impression: 'No acute disease.',
    interpreter: 'Dr. Reader',
    // An outpatient radiology visit (PID-18 account, PV1-19 visit, PV1-2 class, PV1-3 location).
    visit: {
      accountNumber: 'ACCT-500002',
      visitNumber: 'VN-800002',
      patientClass: 'O',
      assignedLocation: 'RAD',
    },
    ...overrides,
  };
}
