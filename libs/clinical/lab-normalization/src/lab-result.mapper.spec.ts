import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labResultEventId } from '@ancillary/contracts';
import { Hl7Message } from '@ancillary/hl7-core';
import { UnmappedCodeError } from '@ancillary/terminology';
import { normalizeLabMessage } from './lab-result.mapper';
import { resultKey } from './result-key';
import {
  SOURCE,
  editSegment,
  fixtureMessage,
  fixtureText,
  normalizationError,
  normalizeFixture,
  normalizeText,
  terminology,
} from './test/fixtures';

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const V3 = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
const NWH = 'http://northwind-hospital.example.org/fhir/CodeSystem/lab-local';
const EAST = 'http://east-campus.example.org/fhir/CodeSystem/lab-local';
const at = (iso: string): number => Date.parse(iso);
const normal = { system: V3, code: 'N', display: 'Normal' };
const high = { system: V3, code: 'H', display: 'High' };

describe('normalizeLabMessage', () => {
  describe('v2.5.1 ORU^R01 with two order groups (BMP final, CBC with differential preliminary)', () => {
    const results = normalizeFixture('oru-r01-v251-nwh-bmp-cbc.hl7');
    const [bmp, cbc] = results;

    it('gives one LabResult per OBR, with deterministic event ids', () => {
      expect(results).toHaveLength(2);
      expect(results.map((r) => r.orderIndex)).toEqual([0, 1]);
      expect(bmp?.eventId).toBe(
        labResultEventId(SOURCE.sourceSystem, 'NWH000001', 0, SOURCE.payloadDigest),
      );
      expect(cbc?.eventId).toBe(
        labResultEventId(SOURCE.sourceSystem, 'NWH000001', 1, SOURCE.payloadDigest),
      );
      expect(normalizeFixture('oru-r01-v251-nwh-bmp-cbc.hl7')).toEqual(results);
    });

    it('fills every field of the first result', () => {
      expect({ ...bmp, observations: bmp?.observations.slice(0, 1) }).toEqual({
        eventId: labResultEventId(SOURCE.sourceSystem, 'NWH000001', 0, SOURCE.payloadDigest),
        sourceSystem: 'lab-gateway/NWH-LAB',
        messageControlId: 'NWH000001',
        orderIndex: 0,
        envelopeId: SOURCE.envelopeId,
        receivedAt: SOURCE.receivedAt,
        // The order rules set it in the normalizer; the mapper leaves it false.
        highPriority: false,
        patient: {
          identifiers: [
            { value: 'MRN100234', system: 'NWH', type: 'MR' },
            { value: '555112222', system: 'SSA', type: 'SS' },
          ],
          // PID-5 repeats; the legal name (XPN-7 L) is the second repetition.
          familyName: 'RIVERA',
          givenNames: ['ANA', 'LUCIA'],
          birthDate: '1968-03-02',
          administrativeSex: 'F',
        },
        order: {
          placerOrderNumber: 'PL1001',
          fillerOrderNumber: 'FL2001',
          code: { system: LOINC, code: '51990-0', display: 'Basic metabolic panel - Blood' },
          localCode: { system: NWH, code: 'BMP', display: 'Basic metabolic panel' },
          priority: 'routine',
          orderingProvider: 'CHEN, WEI MD (1234)',
        },
        specimen: {
          identifier: 'S26-55501',
          type: {
            system: 'http://terminology.hl7.org/CodeSystem/v2-0487',
            code: 'SER',
            display: 'Serum',
          },
          collectedAt: at('2026-11-15T12:15:00Z'),
          receivedAt: at('2026-11-15T12:40:00Z'),
        },
        status: 'FINAL',
        effectiveAt: at('2026-11-15T12:15:00Z'),
        issuedAt: at('2026-11-15T13:25:00Z'),
        observations: [
          {
            setId: 1,
            code: {
              system: LOINC,
              code: '2951-2',
              display: 'Sodium [Moles/volume] in Serum or Plasma',
            },
            localCode: { system: NWH, code: 'NA', display: 'Sodium' },
            value: { kind: 'NUMERIC', numeric: 141, comparator: null, coded: null, text: null },
            unit: { system: UCUM, code: 'mmol/L', display: 'mmol/L' },
            referenceRange: '136-145',
            referenceLow: 136,
            referenceHigh: 145,
            interpretation: [normal],
            status: 'FINAL',
            observedAt: at('2026-11-15T12:15:00Z'),
            notes: [],
            critical: false,
          },
        ],
        notes: ['Specimen received at 07:40.'],
        // PID-18 and PV1-19/-2/-3: the account and visit billing posts charges against.
        visit: {
          accountNumber: 'NWHACCT5501',
          visitNumber: 'V2611150042',
          patientClass: 'O',
          // PV1-3 `LAB^^^NWH`: the point of care; PL-4 (the facility) is not part of it.
          assignedLocation: 'LAB',
        },
      });
    });

    it('maps every OBX of the panel, with NTE after an OBX as its notes', () => {
      expect(bmp?.observations.map((o) => [o.setId, o.code.code, o.value.numeric])).toEqual([
        [1, '2951-2', 141],
        [2, '2823-3', 4.2],
        [3, '2075-0', 103],
        [4, '2028-9', 25],
        [5, '3094-0', 18],
        [6, '2160-0', 1.45],
        [7, '2345-7', 112],
        [8, '17861-6', 9.1],
      ]);
      const creatinine = bmp?.observations[5];
      expect(creatinine?.notes).toEqual(['Consider repeat to confirm.']);
      expect(creatinine?.interpretation).toEqual([high]);
      // OBX-14 absent: observed when the specimen was collected (OBR-7).
      expect(creatinine?.observedAt).toBe(at('2026-11-15T12:15:00Z'));
      expect(bmp?.observations[6]).toMatchObject({
        referenceRange: '70 - 99',
        referenceLow: 70,
        referenceHigh: 99,
      });
    });

    it('maps the second group: its own order, priority from TQ1, status preliminary, K/uL as UCUM', () => {
      expect(cbc).toMatchObject({
        status: 'PRELIMINARY',
        order: {
          placerOrderNumber: 'PL1002',
          fillerOrderNumber: 'FL2002',
          code: { code: '57021-8', display: 'CBC W Auto Differential panel - Blood' },
          priority: 'stat',
        },
        // No SPM in this group: the specimen comes from OBR-3 and OBR-7.
        specimen: {
          identifier: 'FL2002',
          type: null,
          collectedAt: at('2026-11-15T12:15:00Z'),
          receivedAt: null,
        },
        issuedAt: at('2026-11-15T13:30:00Z'),
        notes: [],
      });
      expect(cbc?.observations).toHaveLength(11);
      expect(cbc?.observations[0]).toMatchObject({
        code: { code: '6690-2' },
        unit: { system: UCUM, code: '10*3/uL' },
        status: 'PRELIMINARY',
      });
      expect(cbc?.observations.map((o) => o.unit?.code)).toEqual([
        '10*3/uL',
        '10*6/uL',
        'g/dL',
        '%',
        'fL',
        'pg',
        'g/dL',
        '%',
        '10*3/uL',
        '%',
        '%',
      ]);
    });

    it('keys both results by the first patient identifier', () => {
      expect(results.map(resultKey)).toEqual(['MRN100234', 'MRN100234']);
    });
  });

  describe('the visit (PID-18 account, PV1) billing posts charges against', () => {
    const CORRECTED = fixtureText('oru-r01-v251-nwh-corrected.hl7');
    const PID = 'PID|1||MRN100234^^^NWH^MR||RIVERA^ANA^LUCIA^^^^L||19680302|F';
    /** The corrected fixture with its PID replaced by `segments` (a PID and maybe a PV1). */
    const withPatient = (...segments: string[]): string =>
      editSegment(CORRECTED, 'PID|', segments.join('\r'));
    /** PID with PID-18 as given. */
    const pid = (account: string): string => `${PID}${'|'.repeat(10)}${account}`;
    /** PV1 with PV1-2, PV1-3 and PV1-19 as given. */
    const pv1 = (patientClass: string, location: string, visitNumber: string): string =>
      `PV1|1|${patientClass}|${location}${'|'.repeat(16)}${visitNumber}`;

    it('gives every order group of the patient the same visit', () => {
      const [bmp, cbc] = normalizeFixture('oru-r01-v251-nwh-bmp-cbc.hl7');
      expect(cbc?.visit).toEqual(bmp?.visit);
      expect(cbc?.visit?.visitNumber).toBe('V2611150042');
    });

    it('is null when the message has neither PID-18 nor PV1', () => {
      expect(normalizeFixture('oru-r01-v23-nwh-cmp.hl7').map((r) => r.visit)).toEqual([null, null]);
      expect(normalizeText(CORRECTED)[0]?.visit).toBeNull();
    });

    it('is null for a PV1 with nothing but its set id, and without PID-18', () => {
      expect(normalizeText(withPatient(PID, 'PV1|1'))[0]?.visit).toBeNull();
    });

    it('keeps the account alone when there is no PV1', () => {
      expect(normalizeText(withPatient(pid('NWHACCT9001^^^NWH^AN')))[0]?.visit).toEqual({
        accountNumber: 'NWHACCT9001',
        visitNumber: null,
        patientClass: null,
        assignedLocation: null,
      });
    });

    it('decodes escapes, keeps inner empty location parts and reads an HD point of care', () => {
      const [result] = normalizeText(
        withPatient(
          pid('""'),
          // v2.7+ PL-1 is an HD: its namespace id is the first subcomponent; `\T\` is `&`.
          pv1('e', 'ONC\\T\\HEM&NWH-ONC&L^^12^NWH', 'V\\F\\7701^^^NWH^VN'),
        ),
      );
      expect(result?.visit).toEqual({
        // PID-18 `""` (HL7 explicit null) is not an account.
        accountNumber: null,
        visitNumber: 'V|7701',
        patientClass: 'E',
        assignedLocation: 'ONC&HEM^^12',
      });
    });

    it('gives each patient group its own visit', () => {
      const [msh, ...group] = withPatient(pid('NWHACCT9002'), pv1('I', '4W^401^A', 'V-1')).split(
        '\r',
      );
      // A second patient (another MRN) with an account and no PV1.
      const second = withPatient(pid('NWHACCT9003').replace('MRN100234', 'MRN100235'))
        .split('\r')
        .slice(1);
      const results = normalizeText([msh, ...group, ...second].join('\r'));
      expect(results.map((r) => [r.patient.identifiers[0]?.value, r.visit])).toEqual([
        [
          'MRN100234',
          {
            accountNumber: 'NWHACCT9002',
            visitNumber: 'V-1',
            patientClass: 'I',
            assignedLocation: '4W^401^A',
          },
        ],
        [
          'MRN100235',
          {
            accountNumber: 'NWHACCT9003',
            visitNumber: null,
            patientClass: null,
            assignedLocation: null,
          },
        ],
      ]);
    });
  });

  describe('v2.3 ORU^R01 (two order groups, local time, TQ priority, OBR-15 specimen)', () => {
    const results = normalizeFixture('oru-r01-v23-nwh-cmp.hl7');
    const [cmp, cbc] = results;

    it('maps both order groups, the second without ORC', () => {
      expect(
        results.map((r) => [r.orderIndex, r.order.code.code, r.order.placerOrderNumber]),
      ).toEqual([
        [0, '24323-8', 'PL2001'],
        [1, '58410-2', 'PL2002'],
      ]);
      expect(cbc).toMatchObject({
        order: { priority: 'stat', fillerOrderNumber: 'FL3002' },
        specimen: { type: { code: 'BLD', display: 'Whole blood' } },
        issuedAt: at('2026-11-15T14:12:00Z'),
      });
      expect(cbc?.patient).toEqual(cmp?.patient);
      // Platelets 18 K/uL: flagged LL and below the critical low of 20.
      expect(cbc?.observations.map((o) => [o.code.code, o.critical])).toEqual([
        ['6690-2', false],
        ['718-7', false],
        ['777-3', true],
      ]);
    });

    it('maps the order from OBR, with priority from OBR-27.6 and the provider from OBR-16', () => {
      expect(cmp?.order).toEqual({
        placerOrderNumber: 'PL2001',
        fillerOrderNumber: 'FL3001',
        code: {
          system: LOINC,
          code: '24323-8',
          display: 'Comprehensive metabolic 2000 panel - Serum or Plasma',
        },
        localCode: { system: NWH, code: 'CMP', display: 'Comprehensive metabolic panel' },
        priority: 'urgent',
        orderingProvider: 'PATEL, ASHA (4321)',
      });
    });

    it('takes the specimen from OBR-15 (v2.3 SPS) with OBR-7 and OBR-14', () => {
      expect(cmp?.specimen).toEqual({
        identifier: 'FL3001',
        type: {
          system: 'http://terminology.hl7.org/CodeSystem/v2-0487',
          code: 'SER',
          display: 'Serum',
        },
        collectedAt: at('2026-11-15T13:10:00Z'),
        receivedAt: at('2026-11-15T13:20:00Z'),
      });
    });

    it('reads ">400" as numeric with a comparator', () => {
      expect(cmp?.observations[0]).toMatchObject({
        code: { code: '2345-7' },
        value: { kind: 'NUMERIC', numeric: 400, comparator: '>' },
        unit: { code: 'mg/dL' },
        interpretation: [high],
        notes: ['Above the analytical range; diluted repeat to follow.'],
        critical: false,
      });
    });

    it('keeps a v2.3 patient without identifier type details and the last note with its OBX', () => {
      expect(cmp?.patient).toEqual({
        identifiers: [{ value: 'MRN100777', system: 'NWH', type: 'MR' }],
        familyName: 'OKAFOR',
        givenNames: ['CHIDI', 'EMEKA'],
        birthDate: '1955-11-20',
        administrativeSex: 'M',
      });
      expect(cmp?.observations).toHaveLength(14);
      expect(cmp?.observations[13]?.notes).toEqual(['Fasting status unknown.']);
      expect(cmp?.notes).toEqual([]);
    });

    it('reads times without offset in the configured zone (UTC by default)', () => {
      const [inUtc] = normalizeLabMessage(
        fixtureMessage('oru-r01-v23-nwh-cmp.hl7'),
        SOURCE,
        terminology,
      );
      expect(inUtc?.effectiveAt).toBe(at('2026-11-15T08:10:00Z'));
      expect(cmp?.effectiveAt).toBe(at('2026-11-15T13:10:00Z'));
    });
  });

  it('maps a corrected result: report and observation status CORRECTED, with the notes', () => {
    const [corrected] = normalizeFixture('oru-r01-v251-nwh-corrected.hl7');
    expect(corrected?.status).toBe('CORRECTED');
    expect(corrected?.notes).toEqual(['Corrected report: potassium repeated on a new specimen.']);
    expect(corrected?.observations[1]).toMatchObject({
      code: { code: '2823-3' },
      value: { numeric: 4 },
      status: 'CORRECTED',
      notes: ['Corrected: previously reported as 6.8 mmol/L (hemolysed specimen).'],
    });
    expect(corrected?.observations[0]?.status).toBe('FINAL');
  });

  it('maps a cancelled order with no OBX: status CANCELLED, no observations, the reason as a note', () => {
    const results = normalizeFixture('oru-r01-v251-nwh-cancelled.hl7');
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({
      status: 'CANCELLED',
      observations: [],
      notes: ['Specimen clotted; test cancelled. Please recollect.'],
      order: { code: { code: '10839-9' }, placerOrderNumber: 'PL4001' },
    });
  });

  describe('value types', () => {
    const [ua, ana, lipid] = normalizeFixture('oru-r01-v251-nwh-value-types.hl7');

    it('maps ST, NM without unit, CWE/CE and FT in one panel', () => {
      expect(ua?.observations.map((o) => [o.code.code, o.value])).toEqual([
        [
          '5778-6',
          { kind: 'STRING', numeric: null, comparator: null, coded: null, text: 'Straw & clear' },
        ],
        ['5811-5', { kind: 'NUMERIC', numeric: 1.015, comparator: null, coded: null, text: null }],
        ['5803-2', { kind: 'NUMERIC', numeric: 6, comparator: null, coded: null, text: null }],
        [
          '20454-5',
          {
            kind: 'CODED',
            numeric: null,
            comparator: null,
            coded: { system: NWH, code: 'NEG', display: 'Negative' },
            text: null,
          },
        ],
        [
          '25428-4',
          {
            kind: 'CODED',
            numeric: null,
            comparator: null,
            coded: { system: NWH, code: 'POS', display: 'Positive' },
            text: null,
          },
        ],
        [
          '5802-4',
          {
            kind: 'CODED',
            numeric: null,
            comparator: null,
            coded: { system: NWH, code: 'NEG', display: 'Negative' },
            text: null,
          },
        ],
        [
          '48767-8',
          {
            kind: 'TEXT',
            numeric: null,
            comparator: null,
            coded: null,
            text: 'Dipstick screen only.\nMicroscopy not indicated | not performed.\n  Reviewed by: A. Tech',
          },
        ],
      ]);
      expect(ua?.observations[1]?.unit).toBeNull();
      expect(ua?.observations[2]?.unit).toEqual({ system: UCUM, code: '[pH]', display: '[pH]' });
      expect(ua?.observations[4]?.interpretation).toEqual([
        { system: V3, code: 'A', display: 'Abnormal' },
      ]);
      // A non-numeric reference range is kept as sent, without bounds.
      expect(ua?.observations[3]).toMatchObject({
        referenceRange: 'NEG',
        referenceLow: null,
        referenceHigh: null,
      });
    });

    it('maps an SN ratio as text', () => {
      expect(ana?.observations[0]).toMatchObject({
        code: { code: '5048-4' },
        value: { kind: 'STRING', text: '1:160', numeric: null },
        referenceRange: '<1:40',
        referenceLow: null,
        referenceHigh: null,
      });
    });

    it('maps SN ">^1000" as numeric with a comparator and parses "<150" and ">40" ranges', () => {
      expect(
        lipid?.observations.map((o) => [o.value.kind, o.value.numeric, o.value.comparator]),
      ).toEqual([
        ['NUMERIC', 1000, '>'],
        ['NUMERIC', 245, null],
        ['NUMERIC', 38, null],
        ['STRING', null, null],
      ]);
      expect(lipid?.observations[0]).toMatchObject({ referenceLow: null, referenceHigh: 150 });
      expect(lipid?.observations[2]).toMatchObject({ referenceLow: 40, referenceHigh: null });
    });
  });

  it('decodes Latin-1 names and notes (MSH-18 8859/1)', () => {
    const [result] = normalizeFixture('oru-r01-v25-nwh-latin1.hl7');
    expect(result?.patient).toMatchObject({
      familyName: 'MÜLLER-LÉVÊQUE',
      givenNames: ['JOSÉ', 'FRANÇOIS'],
    });
    expect(result?.observations[0]?.notes).toEqual(['Échantillon reçu à 09:10 - hémolyse légère.']);
  });

  it('maps an EAST-LAB message that sends LOINC first and its local code as the alternate', () => {
    const [cbc, bmp] = normalizeFixture('oru-r01-v251-east-loinc-first.hl7');
    expect(cbc?.order).toMatchObject({
      code: { code: '58410-2' },
      localCode: { system: EAST, code: 'H200', display: 'COMPLETE BLOOD COUNT' },
      orderingProvider: null,
      priority: null,
    });
    expect(cbc?.observations.map((o) => [o.code.code, o.localCode, o.unit?.code])).toEqual([
      ['6690-2', { system: EAST, code: '2001', display: 'WBC' }, '10*3/uL'],
      // LOINC only: accepted because EAST-LAB's table maps one of its codes to it.
      [
        '718-7',
        { system: LOINC, code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood' },
        'g/dL',
      ],
      ['777-3', { system: EAST, code: '2009', display: 'PLATELETS' }, '10*3/uL'],
    ]);
    expect(cbc?.patient.administrativeSex).toBe('U');
    // The same test under another facility's code and unit: creatinine in umol/L.
    expect(bmp?.observations[0]).toMatchObject({
      code: { code: '14682-9' },
      unit: { code: 'umol/L' },
      value: { numeric: 88 },
    });
  });

  describe('errors: nothing partial, a precise reason, permanent', () => {
    it('refuses an unmapped OBX-3, wrapping the terminology error, and returns nothing', () => {
      const error = normalizationError(() =>
        normalizeFixture('oru-r01-v251-nwh-unmapped-code.hl7'),
      );
      expect(error.message).toBe(
        'OBX-3 (order group 1, OBX set id 3): no LOINC mapping for local code "GLUX" (system L) from sending facility NWH-LAB',
      );
      expect(error).toMatchObject({
        name: 'NormalizationError',
        code: 'unmapped-code',
        retriable: false,
        segment: 'OBX',
        segmentIndex: 3,
        field: 3,
        orderIndex: 0,
        setId: 3,
      });
      expect(error.cause).toBeInstanceOf(UnmappedCodeError);
      expect(error.cause).toMatchObject({ kind: 'lab-code', facility: 'NWH-LAB', code: 'GLUX' });
    });

    it('refuses a message without PID-3 identifiers', () => {
      const error = normalizationError(() => normalizeFixture('oru-r01-v251-nwh-missing-pid3.hl7'));
      expect(error).toMatchObject({
        code: 'missing-patient-identifier',
        segment: 'PID',
        field: 3,
        orderIndex: null,
      });
      expect(error.message).toBe(
        'PID-3: PID-3 (patient identifier list) has no identifier; the message cannot be filed to a patient',
      );
      expect(error.message).not.toContain('DOE');
    });

    it('refuses a message without PID', () => {
      const text = editSegment(fixtureText('oru-r01-v251-nwh-corrected.hl7'), 'PID|', null);
      expect(normalizationError(() => normalizeText(text))).toMatchObject({
        code: 'missing-patient-identifier',
        segment: 'OBR',
      });
    });

    it('refuses a message type other than ORU^R01', () => {
      const text = fixtureText('oru-r01-v251-nwh-corrected.hl7').replace(
        'ORU^R01^ORU_R01',
        'ORU^R30^ORU_R30',
      );
      const error = normalizationError(() => normalizeText(text));
      expect(error).toMatchObject({ code: 'unsupported-message-type', segment: 'MSH', field: 9 });
      expect(error.message).toBe(
        'MSH-9: message type ORU^R30 is not a lab result; expected ORU^R01',
      );
    });

    it('refuses a message without a sending facility', () => {
      const text = fixtureText('oru-r01-v251-nwh-corrected.hl7').replace('|NWH-LAB|', '||');
      expect(normalizationError(() => normalizeText(text))).toMatchObject({
        code: 'missing-sending-facility',
        segment: 'MSH',
        field: 4,
      });
    });

    it('names the facility when it has no code table (a message from another hospital)', () => {
      const message = Hl7Message.parse(
        readFileSync(join(__dirname, '../../../hl7/core/fixtures/oru-r01-v23-chemistry.hl7')),
      );
      const error = normalizationError(() => normalizeLabMessage(message, SOURCE, terminology));
      expect(error.code).toBe('unmapped-code');
      expect(error.message).toBe(
        'OBR-4 (order group 1): no LOINC mapping for orderable "CMP" (system L) from sending facility MAINLAB: the facility is not in facilities.csv',
      );
    });

    it('refuses segments out of order as an invalid structure', () => {
      const text = editSegment(fixtureText('oru-r01-v251-nwh-corrected.hl7'), 'OBR|', null);
      const error = normalizationError(() => normalizeText(text));
      expect(error).toMatchObject({ code: 'invalid-structure', segment: 'OBX', segmentIndex: 1 });
      expect(error.message).toBe(
        'OBX: the segments do not form an ORU^R01: OBX at segment 5: OBX before any OBR',
      );
      expect(error.cause).toBeInstanceOf(Error);
    });

    it('refuses an order group without placer and filler order numbers', () => {
      let text = fixtureText('oru-r01-v251-nwh-corrected.hl7');
      text = editSegment(text, 'ORC|', 'ORC|RE');
      text = text.replace('OBR|1|PL1001^EHR|FL2001^SIMLIS|', 'OBR|1|||');
      const error = normalizationError(() => normalizeText(text));
      expect(error).toMatchObject({ code: 'missing-order-number', segment: 'OBR', field: 2 });
      expect(error.message).toMatch(/^OBR-2 \(order group 1\): neither a placer/);
    });

    it('takes order numbers from ORC when OBR leaves them empty', () => {
      const text = fixtureText('oru-r01-v251-nwh-corrected.hl7').replace(
        'OBR|1|PL1001^EHR|FL2001^SIMLIS|',
        'OBR|1|||',
      );
      expect(normalizeText(text)[0]?.order).toMatchObject({
        placerOrderNumber: 'PL1001',
        fillerOrderNumber: 'FL2001',
      });
    });

    it('refuses an empty OBX-3 and an unmapped OBR-4', () => {
      const base = fixtureText('oru-r01-v251-nwh-corrected.hl7');
      expect(
        normalizationError(() =>
          normalizeText(editSegment(base, 'OBX|1|', 'OBX|1|NM|||141|mmol/L|136-145|N|||F')),
        ),
      ).toMatchObject({ code: 'missing-code', segment: 'OBX', field: 3, setId: 1 });
      const error = normalizationError(() =>
        normalizeText(base.replace('BMP^Basic metabolic panel^L', 'XBMP^Other panel^L')),
      );
      expect(error.code).toBe('unmapped-code');
      expect(error.cause).toMatchObject({ kind: 'orderable', code: 'XBMP' });
    });

    it('refuses an unmapped unit and an unmapped flag', () => {
      const base = fixtureText('oru-r01-v251-nwh-corrected.hl7');
      const unit = normalizationError(() =>
        normalizeText(editSegment(base, 'OBX|1|', 'OBX|1|NM|NA^Sodium^L||141|mEq/L|136-145|N|||F')),
      );
      expect(unit).toMatchObject({ code: 'unmapped-code', field: 6, setId: 1 });
      expect(unit.message).toBe(
        'OBX-6 (order group 1, OBX set id 1): no UCUM mapping for unit "mEq/L" (units.csv)',
      );
      const flag = normalizationError(() =>
        normalizeText(
          editSegment(base, 'OBX|1|', 'OBX|1|NM|NA^Sodium^L||141|mmol/L|136-145|N~QCF|||F'),
        ),
      );
      expect(flag).toMatchObject({ code: 'unmapped-code', field: 8 });
      expect(flag.cause).toMatchObject({ kind: 'flag', code: 'QCF' });
    });

    it('refuses a LOINC that disagrees with the local code it is sent with', () => {
      const text = editSegment(
        fixtureText('oru-r01-v251-nwh-corrected.hl7'),
        'OBX|1|',
        'OBX|1|NM|NA^Sodium^L^2823-3^Potassium^LN||141|mmol/L|136-145|N|||F',
      );
      const error = normalizationError(() => normalizeText(text));
      expect(error.code).toBe('conflicting-code');
      expect(error.message).toMatch(
        /^OBX-3 \(order group 1, OBX set id 1\): the sender's LOINC 2823-3 disagrees with lab-codes\.csv line \d+, which maps NA \(NWH-LAB\) to LOINC 2951-2$/,
      );
    });

    it('refuses a value that does not fit its type, naming the OBX', () => {
      const text = editSegment(
        fixtureText('oru-r01-v251-nwh-corrected.hl7'),
        'OBX|2|',
        'OBX|2|NM|K^Potassium^L||hemolysed|mmol/L|3.5-5.1||||C',
      );
      const error = normalizationError(() => normalizeText(text));
      expect(error).toMatchObject({
        code: 'invalid-value',
        segment: 'OBX',
        segmentIndex: 2,
        field: 5,
        setId: 2,
      });
      expect(error.message).toBe(
        'OBX-5 (order group 1, OBX set id 2): "hemolysed" is not a number (value type NM)',
      );
    });

    it('refuses invalid timestamps and birth dates', () => {
      const base = fixtureText('oru-r01-v251-nwh-corrected.hl7');
      const obx = normalizationError(() =>
        normalizeText(
          editSegment(
            base,
            'OBX|2|',
            'OBX|2|NM|K^Potassium^L||4.0|mmol/L|3.5-5.1|N|||C|||20261315071500',
          ),
        ),
      );
      expect(obx).toMatchObject({ code: 'invalid-timestamp', segment: 'OBX', field: 14, setId: 2 });
      expect(obx.message).toBe(
        'OBX-14 (order group 1, OBX set id 2): "20261315071500" has month 13',
      );
      const pid = normalizationError(() => normalizeText(base.replace('19680302', '19680231')));
      expect(pid).toMatchObject({ code: 'invalid-timestamp', segment: 'PID', field: 7 });
    });

    it('refuses an administrative sex outside HL7 table 0001', () => {
      const text = fixtureText('oru-r01-v251-nwh-corrected.hl7').replace(
        '|19680302|F',
        '|19680302|Female',
      );
      expect(normalizationError(() => normalizeText(text))).toMatchObject({
        code: 'invalid-value',
        segment: 'PID',
        field: 8,
      });
    });

    it('refuses duplicate and non-numeric set ids, and numbers OBX without OBX-1 by position', () => {
      const base = fixtureText('oru-r01-v251-nwh-corrected.hl7');
      const duplicate = normalizationError(() =>
        normalizeText(
          editSegment(base, 'OBX|2|', 'OBX|1|NM|K^Potassium^L||4.0|mmol/L|3.5-5.1|N|||C'),
        ),
      );
      expect(duplicate).toMatchObject({ code: 'invalid-value', field: 1, segmentIndex: 2 });
      expect(duplicate.message).toMatch(/set id 1 appears twice in this order group/);
      const letters = normalizationError(() =>
        normalizeText(
          editSegment(base, 'OBX|2|', 'OBX|B|NM|K^Potassium^L||4.0|mmol/L|3.5-5.1|N|||C'),
        ),
      );
      expect(letters.message).toBe(
        'OBX-1 (order group 1): set id "B" is not a positive whole number',
      );
      const unnumbered = normalizeText(
        editSegment(base, 'OBX|2|', 'OBX||NM|K^Potassium^L||4.0|mmol/L|3.5-5.1|N|||C'),
      );
      expect(unnumbered[0]?.observations.map((o) => o.setId)).toEqual([1, 2]);
    });

    it('refuses a numeric result in a unit its critical ranges do not use', () => {
      const text = editSegment(
        fixtureText('oru-r01-v251-nwh-corrected.hl7'),
        'OBX|2|',
        'OBX|2|NM|K^Potassium^L||4.0|umol/L|3.5-5.1|N|||C',
      );
      const error = normalizationError(() => normalizeText(text));
      expect(error).toMatchObject({ code: 'unit-mismatch', field: 6, setId: 2 });
      expect(error.message).toBe(
        'OBX-6 (order group 1, OBX set id 2): 2823-3 (Potassium [Moles/volume] in Serum or Plasma) has critical ranges in mmol/L (critical-ranges.csv) but the result is in umol/L; whether it is critical cannot be decided',
      );
    });

    it('fails the whole message when its second order group is bad', () => {
      const text = editSegment(
        fixtureText('oru-r01-v251-nwh-bmp-cbc.hl7'),
        'OBX|11|',
        'OBX|11|NM|LYMPX^Lymphocytes %^L||30.1|%|20-40|N|||P',
      );
      const error = normalizationError(() => normalizeText(text));
      expect(error).toMatchObject({ orderIndex: 1, setId: 11, segmentIndex: 19 });
    });

    it('refuses an unknown time zone as a configuration error', () => {
      expect(() =>
        normalizeLabMessage(fixtureMessage('oru-r01-v251-nwh-corrected.hl7'), SOURCE, terminology, {
          defaultTimeZone: 'Nowhere/Town',
        }),
      ).toThrow(RangeError);
    });
  });
});
