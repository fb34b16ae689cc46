import { imagingReport } from '../test/imaging-report.fixture';
import { InvalidClinicalEventError } from './errors';
import {
  CPT_SYSTEM,
  fillerOrderSystem,
  ORDER_PRIORITY_EXTENSION,
  RESULT_PRIORITY_EXTENSION,
} from './event.mapper';
import {
  accessionSystem,
  DICOM_UID_SYSTEM,
  imagingReportKeys,
  mapImagingReport,
  REPORT_TEXT_CONTENT_TYPE,
} from './imaging-report.mapper';
import { DEFAULT_PLACER_ORDER_SYSTEM } from './lab-result.mapper';

const keysOf = (r = imagingReport()) => imagingReportKeys(r, DEFAULT_PLACER_ORDER_SYSTEM);
const decode = (data: string | undefined) => Buffer.from(data ?? '', 'base64').toString('utf8');

describe('imagingReportKeys', () => {
  it('derives the same ids from the same order numbers whatever the message, scoped to the RIS', () => {
    const first = keysOf(imagingReport({ messageControlId: 'A' }));
    const corrected = keysOf(imagingReport({ messageControlId: 'B' }, { status: 'CORRECTED' }));
    expect(corrected.diagnosticReportId).toBe(first.diagnosticReportId);
    expect(corrected.imagingStudyId).toBe(first.imagingStudyId);
    expect(corrected.serviceRequestId).toBe(first.serviceRequestId);
    const other = keysOf(imagingReport({ sourceSystem: 'ris-east' }));
    expect(other.diagnosticReportId).not.toBe(first.diagnosticReportId);
    expect(first.reportKey).toEqual({
      kind: 'FILL',
      system: fillerOrderSystem('ris-main'),
      value: 'RAD-9001',
    });
  });

  it('keys the report by filler, else accession, else placer, else the message', () => {
    expect(keysOf(imagingReport({ filler: null })).reportKey).toEqual({
      kind: 'ACSN',
      system: accessionSystem('ris-main'),
      value: 'ACC-7001',
    });
    expect(keysOf(imagingReport({ filler: null, accession: null })).reportKey).toMatchObject({
      kind: 'PLAC',
      value: 'PLC-R001',
    });
    const none = keysOf(imagingReport({ filler: null, accession: null, placer: null }));
    expect(none.reportKey).toMatchObject({ kind: 'EVENT', value: 'RIS-0001:0' });
    expect(none.serviceRequestId).toBeUndefined();
    expect(none.reportIdentifiers).toEqual([
      { system: none.reportKey.system, value: 'RIS-0001:0' },
    ]);
  });

  it('accepts a UID with or without urn:oid: and leaves a malformed one out with a warning', () => {
    expect(keysOf(imagingReport({ studyInstanceUid: 'urn:oid:1.2.3.4' })).studyInstanceUid).toBe(
      '1.2.3.4',
    );
    const bad = keysOf(imagingReport({ studyInstanceUid: '1.2.03.x' }));
    expect(bad.studyInstanceUid).toBeUndefined();
    expect(bad.warnings).toEqual([expect.stringMatching(/not a DICOM UID/)]);
    expect(
      keysOf(imagingReport({ studyInstanceUid: `1.${'2'.repeat(64)}` })).studyInstanceUid,
    ).toBe(undefined);
  });

  it('refuses a report without patient identifier or procedure code', () => {
    const noPatient = imagingReport();
    noPatient.patient.identifiers = [];
    expect(() => keysOf(noPatient)).toThrow(InvalidClinicalEventError);
    const noCode = imagingReport({}, { procedure: { system: null, code: ' ', display: null } });
    expect(() => keysOf(noCode)).toThrow(/procedure\.code \(OBR-4\)/);
  });
});

describe('mapImagingReport', () => {
  it('builds the radiology DiagnosticReport: categories, CPT code, text, conclusion, study, order', () => {
    const report = imagingReport();
    const keys = keysOf(report);
    const m = mapImagingReport(report, keys, { patientId: 'p1', serviceRequestId: 'ehr-sr' });
    expect(m.serviceRequest).toBeUndefined(); // the EHR's order is referenced, not rewritten
    expect(m.report).toEqual({
      resourceType: 'DiagnosticReport',
      id: keys.diagnosticReportId,
      identifier: [
        {
          type: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'FILL' }],
          },
          system: fillerOrderSystem('ris-main'),
          value: 'RAD-9001',
        },
        {
          type: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }],
          },
          system: accessionSystem('ris-main'),
          value: 'ACC-7001',
        },
      ],
      basedOn: [{ reference: 'ServiceRequest/ehr-sr' }],
      status: 'final',
      category: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/v2-0074',
              code: 'RAD',
              display: 'Radiology',
            },
          ],
        },
        { coding: [{ system: 'http://loinc.org', code: 'LP29684-5', display: 'Radiology' }] },
      ],
      code: {
        coding: [
          { system: CPT_SYSTEM, code: '71046', display: 'Radiologic examination, chest; 2 views' },
          { system: 'urn:ris:local', code: 'XRCH2', display: 'XR Chest 2 views' },
        ],
        text: 'Radiologic examination, chest; 2 views',
      },
      subject: { reference: 'Patient/p1' },
      effectiveDateTime: '2026-03-05T08:00:00.000Z',
      issued: '2026-03-05T09:00:00.000Z',
      resultsInterpreter: [{ display: 'Dr. Reader' }],
      imagingStudy: [{ reference: `ImagingStudy/${keys.imagingStudyId}` }],
      conclusion: 'No acute disease.',
      presentedForm: [
        {
          contentType: REPORT_TEXT_CONTENT_TYPE,
          data: Buffer.from(report.reportText, 'utf8').toString('base64'),
        },
      ],
    });
    expect(decode(m.report.presentedForm?.[0]?.data)).toBe(report.reportText);
  });

  it('builds the ImagingStudy with the UID, accession, modality and order', () => {
    const report = imagingReport();
    const keys = keysOf(report);
    const { imagingStudy } = mapImagingReport(report, keys, {
      patientId: 'p1',
      serviceRequestId: 'ehr-sr',
    });
    expect(imagingStudy).toMatchObject({
      resourceType: 'ImagingStudy',
      id: keys.imagingStudyId,
      identifier: [
        { system: DICOM_UID_SYSTEM, value: 'urn:oid:1.2.826.0.1.3680043.8.498.10001' },
        { system: accessionSystem('ris-main'), value: 'ACC-7001' },
      ],
      status: 'available',
      modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CR' }],
      subject: { reference: 'Patient/p1' },
      started: '2026-03-05T08:00:00.000Z',
      basedOn: [{ reference: 'ServiceRequest/ehr-sr' }],
      description: 'Radiologic examination, chest; 2 views',
    });
    const cancelled = imagingReport({}, { status: 'CANCELLED' });
    expect(
      mapImagingReport(cancelled, keysOf(cancelled), { patientId: 'p1' }).imagingStudy?.status,
    ).toBe('cancelled');
  });

  it('leaves the study out without a UID, but keeps referencing one the chart has', () => {
    const report = imagingReport({ studyInstanceUid: null });
    const keys = keysOf(report);
    const without = mapImagingReport(report, keys, { patientId: 'p1' });
    expect(without.imagingStudy).toBeUndefined();
    expect(without.report.imagingStudy).toBeUndefined();
    const kept = mapImagingReport(report, keys, { patientId: 'p1', imagingStudyStored: true });
    expect(kept.report.imagingStudy).toEqual([
      { reference: `ImagingStudy/${keys.imagingStudyId}` },
    ]);
  });

  it("writes the repository's own ServiceRequest when it is the one the report is based on", () => {
    const report = imagingReport({}, { priority: 'STAT', status: 'PRELIMINARY' });
    const keys = keysOf(report);
    const m = mapImagingReport(report, keys, {
      patientId: 'p1',
      serviceRequestId: keys.serviceRequestId!,
    });
    expect(m.serviceRequest).toMatchObject({
      id: keys.serviceRequestId,
      status: 'active',
      intent: 'order',
      priority: 'stat',
      category: [{ coding: [{ system: 'http://snomed.info/sct', code: '363679005' }] }],
      identifier: [
        { system: DEFAULT_PLACER_ORDER_SYSTEM, value: 'PLC-R001' },
        { system: fillerOrderSystem('ris-main'), value: 'RAD-9001' },
      ],
    });
  });

  it('flags a high-priority report, keeps non-ASCII text and omits an empty one', () => {
    const text = 'Befund: kein Pneumothorax.\nIMPRESSION: Épanchement — négatif';
    const stat = imagingReport({}, { highPriority: true, priority: 'stat', reportText: text });
    const m = mapImagingReport(stat, keysOf(stat), { patientId: 'p1' });
    expect(m.report.extension).toEqual([
      { url: RESULT_PRIORITY_EXTENSION, valueCode: 'high' },
      { url: ORDER_PRIORITY_EXTENSION, valueCode: 'stat' },
    ]);
    expect(decode(m.report.presentedForm?.[0]?.data)).toBe(text);
    const empty = imagingReport({}, { reportText: '  ', impression: null, interpreter: null });
    const e = mapImagingReport(empty, keysOf(empty), { patientId: 'p1' }).report;
    expect(e.presentedForm).toBeUndefined();
    expect(e.conclusion).toBeUndefined();
    expect(e.extension).toBeUndefined();
  });

  it('refuses a timestamp out of range, naming the field', () => {
    const bad = imagingReport({}, { effectiveAt: 9e15 });
    expect(() => mapImagingReport(bad, keysOf(bad), { patientId: 'p1' })).toThrow(
      /effectiveAt \(OBR-7\)/,
    );
  });
});
