import { imagingReportEventId } from '@ancillary/contracts';
import { CPT_SYSTEM, UnmappedCodeError } from '@ancillary/terminology';
import { normalizeImagingMessage } from './imaging-report.mapper';
import { SOURCE, fixtureText, parse, terminology, thrown, withoutSegments } from './test/fixtures';

const NY = { defaultTimeZone: 'America/New_York' };
const RAD_LOCAL = 'http://northwind-hospital.example.org/fhir/CodeSystem/rad-local';

function imaging(text: string) {
  return normalizeImagingMessage(parse(text), SOURCE, terminology, NY);
}

const TX_REPORT = fixtureText('oru-r01-v251-ris-tx-report.hl7');
const FT_REPORT = fixtureText('oru-r01-v23-ris-ft-report.hl7');

describe('normalizeImagingMessage', () => {
  describe('a v2.5.1 report sent as one TX OBX per line, sections by LOINC', () => {
    const [report] = imaging(TX_REPORT);

    it('fills every field', () => {
      expect(report).toEqual({
        eventId: imagingReportEventId('ris-main', 'RIS000101', 0, 'fixture-digest'),
        sourceSystem: 'ris-main',
        messageControlId: 'RIS000101',
        orderIndex: 0,
        envelopeId: SOURCE.envelopeId,
        receivedAt: SOURCE.receivedAt,
        patient: {
          identifiers: [
            { value: 'MRN200145', system: 'NWH', type: 'MR' },
            { value: '999887777', system: 'SSA', type: 'SS' },
          ],
          familyName: 'CASTILLO',
          givenNames: ['MARTA', 'E'],
          birthDate: '1958-03-04',
          administrativeSex: 'F',
        },
        placerOrderNumber: 'PL-77001',
        fillerOrderNumber: 'RIS-55001',
        accessionNumber: 'ACC-2026-000451',
        studyInstanceUid: '1.2.840.113619.2.55.3.604688119.868.1732608000.101',
        procedure: {
          system: CPT_SYSTEM,
          code: '71046',
          display: 'Radiologic examination, chest; 2 views',
        },
        localProcedure: { system: RAD_LOCAL, code: 'XRCH2V', display: 'XR chest PA and lateral' },
        modality: 'DX',
        priority: 'stat',
        status: 'FINAL',
        // order-rules.csv: stat → high_priority_result Y.
        highPriority: true,
        effectiveAt: Date.parse('2026-11-26T13:40:00Z'),
        issuedAt: Date.parse('2026-11-26T14:28:00Z'),
        reportText: [
          'XR chest PA and lateral, 2 views.',
          'Comparison: 2025-08-14.',
          'The lungs are clear. No pleural effusion or pneumothorax.',
          '',
          '  Heart size is normal; mediastinal contours are unremarkable.',
          '1. No acute cardiopulmonary process.',
          '2. Stable 4 mm nodule, right upper lobe & no follow-up needed.',
        ].join('\n'),
        findings: [
          'The lungs are clear. No pleural effusion or pneumothorax.',
          '',
          '  Heart size is normal; mediastinal contours are unremarkable.',
        ].join('\n'),
        impression: [
          '1. No acute cardiopulmonary process.',
          '2. Stable 4 mm nodule, right upper lobe & no follow-up needed.',
        ].join('\n'),
        interpreter: 'WEXLER, HANNA MD (5501)',
        // PID-18 account, PV1-19 visit number, PV1-2 class, PV1-3 point of care.
        visit: {
          accountNumber: 'NWHACCT5502',
          visitNumber: 'V2611260017',
          patientClass: 'O',
          assignedLocation: 'RAD',
        },
      });
    });

    it('keeps the account (PID-18) without PV1, and gives no visit without either', () => {
      const [noPv1] = imaging(withoutSegments(TX_REPORT, 'PV1|'));
      expect(noPv1?.visit).toEqual({
        accountNumber: 'NWHACCT5502',
        visitNumber: null,
        patientClass: null,
        assignedLocation: null,
      });
      // The v2.3 FT fixture sends neither PID-18 nor PV1.
      expect(imaging(FT_REPORT).map((r) => r.visit)).toEqual([null, null]);
    });

    it('gives the same ids when the message is mapped again, others for other bytes', () => {
      expect(imaging(TX_REPORT).map((r) => r.eventId)).toEqual([report?.eventId]);
      const other = normalizeImagingMessage(
        parse(TX_REPORT),
        { ...SOURCE, payloadDigest: 'other-digest' },
        terminology,
        NY,
      );
      expect(other[0]?.eventId).not.toBe(report?.eventId);
    });
  });

  describe('a v2.3 report in FT with formatting commands, sections by OBX-3 suffix', () => {
    const [report, cancelled] = imaging(FT_REPORT);

    it('renders \\.br\\ and \\.sp\\ as line breaks and drops \\H\\…\\N\\ highlighting', () => {
      expect(report?.findings).toBe(
        [
          'TECHNIQUE: Axial CT images of the head without contrast.',
          '',
          'FINDINGS:',
          'No acute intracranial hemorrhage, mass effect or midline shift.',
          '',
          'Gray-white differentiation is preserved. Ventricles are normal in size.',
        ].join('\n'),
      );
      expect(report?.impression).toBe('No acute intracranial abnormality.');
      expect(report?.reportText).toBe(`${report?.findings}\nNo acute intracranial abnormality.`);
      expect(report?.reportText).not.toMatch(/\\[A-Z.]/);
    });

    it('reads the Study Instance UID from an RP value, the accession from OBR-3, priority from ORC-7.6', () => {
      expect(report).toMatchObject({
        studyInstanceUid: '1.2.840.113619.2.55.3.604688119.868.1732608000.102',
        accessionNumber: 'RIS-55002',
        procedure: { system: CPT_SYSTEM, code: '70450' },
        modality: 'CT',
        priority: 'routine',
        highPriority: false,
        interpreter: 'NAKAMURA, KEN MD (5502)',
        orderIndex: 0,
      });
    });

    it('maps a cancelled order group without report text', () => {
      expect(cancelled).toMatchObject({
        orderIndex: 1,
        status: 'CANCELLED',
        reportText: '',
        findings: null,
        impression: null,
        studyInstanceUid: null,
        accessionNumber: 'RIS-55003',
        placerOrderNumber: 'PL-77003',
        procedure: { code: '73562' },
        priority: null,
        highPriority: false,
      });
      expect(cancelled?.eventId).not.toBe(report?.eventId);
    });
  });

  it('takes findings and impression from the headings of one free-text block, the UID from ZDS', () => {
    const text = [
      'MSH|^~\\&|SIMRIS|NWH-RAD|ANCILLARY-HUB|NWH|20261126101500||ORU^R01|RIS000103|P|2.4',
      'PID|1||MRN200150^^^NWH^MR||ADEYEMI^TOLU||19900101|M',
      'OBR|1|PL-77010|RIS-55010|USABDC^US abdomen complete^L|||20261126100000|||||||||||||||||F',
      'OBX|1|FT|&GDT^Report^L||EXAM: US abdomen complete\\.br\\COMPARISON: None.\\.br\\FINDINGS: Liver normal in size and echotexture.\\.br\\Gallbladder without stones.\\.br\\\\.br\\IMPRESSION:\\.br\\Normal abdominal ultrasound.\\.br\\Electronically signed by: T. Wexler||||||F',
      'ZDS|1.2.840.113619.2.55.3.604688119.868.1732608000.110^PACS^Application^DICOM',
    ].join('\r');
    // `&GDT` is coded, so this report's sections come from its codes: everything is findings.
    const [coded] = imaging(text);
    expect(coded?.studyInstanceUid).toBe('1.2.840.113619.2.55.3.604688119.868.1732608000.110');
    expect(coded?.impression).toBeNull();

    const [headed] = imaging(text.replace('&GDT^Report^L', 'REPORT^Report^L'));
    expect(headed?.findings).toBe(
      'Liver normal in size and echotexture.\nGallbladder without stones.',
    );
    expect(headed?.impression).toBe('Normal abdominal ultrasound.');
    expect(headed?.reportText.split('\n')).toHaveLength(8);
  });

  it('accepts a CPT code sent alone as OBR-4 when the facility has it', () => {
    const text = TX_REPORT.replace(
      'XRCH2V^XR chest PA and lateral^L^71046^Radiologic examination, chest; 2 views^C4',
      '71046^XR CHEST 2V^C4',
    );
    expect(imaging(text)[0]).toMatchObject({
      procedure: { code: '71046' },
      localProcedure: { code: '71046', display: 'XR CHEST 2V' },
    });
  });

  describe('refuses', () => {
    it('an unmapped procedure, naming OBR-4 and the facility', () => {
      const text = TX_REPORT.replace(
        'XRCH2V^XR chest PA and lateral^L^71046^Radiologic examination, chest; 2 views^C4',
        'XRABD1^XR abdomen 1 view^L',
      );
      const error = thrown(() => imaging(text));
      expect(error).toMatchObject({
        code: 'unmapped-code',
        segment: 'OBR',
        field: 4,
        orderIndex: 0,
      });
      expect(error.message).toMatch(/^OBR-4 \(order group 1\): .*XRABD1.*NWH-RAD/);
      expect(error.cause).toBeInstanceOf(UnmappedCodeError);
      expect(error.cause).toMatchObject({ kind: 'imaging-procedure', code: 'XRABD1' });
    });

    it('a CPT that disagrees with the mapping of the local code', () => {
      const text = TX_REPORT.replace('^71046^Radiologic', '^71250^Radiologic');
      expect(thrown(() => imaging(text))).toMatchObject({ code: 'conflicting-code', field: 4 });
    });

    it('an empty procedure', () => {
      const text = TX_REPORT.replace(
        'XRCH2V^XR chest PA and lateral^L^71046^Radiologic examination, chest; 2 views^C4',
        '',
      );
      expect(thrown(() => imaging(text))).toMatchObject({ code: 'missing-code', field: 4 });
    });

    it('a report without PID-3, without naming the patient', () => {
      const text = TX_REPORT.replace('PID|1||MRN200145^^^NWH^MR~999887777^^^SSA^SS|', 'PID|1|||');
      const error = thrown(() => imaging(text));
      expect(error).toMatchObject({ code: 'missing-patient-identifier', segment: 'PID' });
      expect(error.message).not.toContain('CASTILLO');
    });

    it('a final report without text', () => {
      const text = withoutSegments(TX_REPORT, 'OBX|');
      expect(thrown(() => imaging(text))).toMatchObject({
        code: 'missing-report-text',
        segment: 'OBR',
        field: 25,
      });
    });

    it('a Study Instance UID that is no DICOM UID', () => {
      const text = TX_REPORT.replace(
        '1.2.840.113619.2.55.3.604688119.868.1732608000.101',
        '1.2.840.0113619',
      );
      expect(thrown(() => imaging(text))).toMatchObject({
        code: 'invalid-value',
        segment: 'OBX',
        field: 5,
        setId: 8,
      });
    });

    it('a message that is not an ORU^R01, and one without sending facility', () => {
      expect(thrown(() => imaging(TX_REPORT.replace('ORU^R01^ORU_R01', 'ORM^O01')))).toMatchObject({
        code: 'unsupported-message-type',
        segment: 'MSH',
        field: 9,
      });
      expect(
        thrown(() => imaging(TX_REPORT.replace('|SIMRIS|NWH-RAD|', '|SIMRIS||'))),
      ).toMatchObject({ code: 'missing-sending-facility', field: 4 });
    });

    it('a malformed timestamp', () => {
      const text = TX_REPORT.replace('20261126084000', '20261326084000');
      expect(thrown(() => imaging(text))).toMatchObject({
        code: 'invalid-timestamp',
        segment: 'OBR',
        field: 7,
      });
    });
  });
});
