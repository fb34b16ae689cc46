/**
 * What the order-receiving simulators write, as HL7 text (and FHIR JSON): answers to orders,
 * status updates, lab results for a received order, imaging reports, dispenses.
 */
import { DEFAULT_DELIMITERS, Hl7Message, type Hl7Delimiters } from '@ancillary/hl7-core';
import { loadTerminology } from '@ancillary/terminology';
import { parseDelayRange } from './ancillary-orders';
import {
  buildDispenseMessage,
  buildFhirMedicationDispense,
  daysSupplyOf,
  PHARMACISTS,
  resolveFormularyEntry,
  type FhirMedicationRequestJson,
} from './dispense.builder';
import {
  buildImagingReportMessage,
  drawImagingReport,
  RADIOLOGISTS,
  syntheticStudyUid,
} from './imaging-report.generator';
import { labCatalogueFromTerminology } from './lab-catalogue';
import { resolveLabOrderable, syntheticPatientFrom } from './lis.ancillary';
import { buildOrderAnswer, buildOrderStatusUpdate } from './order-answer.builder';
import { LisTrafficGenerator } from './oru-r01.generator';
import { copySegment, readReceivedOrder, translateRaw } from './received-order.reader';
import { SeededRandom } from './seeded-random';

const terminology = loadTerminology();
const AT = new Date('2026-01-05T08:00:01Z');

function text(message: Hl7Message): string[] {
  return message.toString().split('\r').filter(Boolean);
}

const LAB_ORDER = [
  'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMLIS|NWH-LAB|20260105080000+0000||ORM^O01^ORM_O01|O1|P|2.5.1||||||UNICODE UTF-8',
  'PID|1||E99^^^&urn:oid:1.2.3&ISO^PI~40001234^^^NWH^MR||Müller^Anna^J||19700101|F',
  'PV1|1|I|4W^412^B^NWH',
  'ORC|NW|PLC-1^ANCILLARY-HUB||||||||||1234567890^Okafor^Ngozi',
  'TQ1|1||||||||S^Stat^HL70485',
  'OBR|1|PLC-1^ANCILLARY-HUB||BMP^Basic metabolic panel^L^51990-0^Basic metabolic panel - Blood^LN|R||||||||||1234567890^Okafor^Ngozi||||||||||^^^^^A',
  '',
].join('\r');

const RAD_ORDER = [
  'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMRIS|NWH-RAD|20260105080000+0000||ORM^O01|R1|P|2.3||||||8859/1',
  'PID|1||40005678^^^NWH^MR||Dubois^Léa||19551212|F',
  'ORC|NW|RAD-1^ANCILLARY-HUB|||||^^^^^S||20260105080000+0000|||2222^Gray^Henry',
  'OBR|1|RAD-1^ANCILLARY-HUB||71046^Chest 2 views^C4|S||||||||Cough \\T\\ fever|||2222^Gray^Henry',
  '',
].join('\r');

const RX_ORDER = [
  'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMRX|NWH-RX|20260105080000+0000||RDE^O11^RDE_O11|P1|P|2.5.1',
  'PID|1||40009999^^^NWH^MR||Nakamura^Hiroshi||19800303|M',
  'ORC|NW|RXP-1^ANCILLARY-HUB||||||||||3333^Patel^Priya',
  'RXO|AMLO5^Amlodipine 5 mg tab^L^197361^amlodipine 5 MG Oral Tablet^RXNORM|5||mg^mg^UCUM|||||||30|TAB|2',
  'RXR|PO^Oral^HL70162',
  'RXE||99901-0101-30^Amlodipine 5 mg tablet^NDC|5||mg^mg^UCUM|||||30|TAB|2',
  'TQ1|1||QD||||||R^Routine^HL70485',
  'RXR|PO^Oral^HL70162',
  '',
].join('\r');

describe('reading a received order', () => {
  it('takes placer, code, codings, MRN (the MR repetition) and the priority from TQ1-9 first', () => {
    const { content } = readReceivedOrder(Hl7Message.parse(LAB_ORDER));
    expect(content).toMatchObject({
      controlId: 'O1',
      messageType: 'ORM^O01',
      version: '2.5.1',
      sendingApplication: 'ANCILLARY-HUB',
      patientMrn: '40001234',
    });
    expect(content.lines).toEqual([
      {
        orderControl: 'NW',
        placerOrderNumber: 'PLC-1',
        placerNamespace: 'ANCILLARY-HUB',
        fillerOrderNumber: null,
        code: 'BMP',
        codeSystem: 'L',
        codings: [
          { code: 'BMP', display: 'Basic metabolic panel', system: 'L' },
          { code: '51990-0', display: 'Basic metabolic panel - Blood', system: 'LN' },
        ],
        orderCode: [
          'BMP',
          'Basic metabolic panel',
          'L',
          '51990-0',
          'Basic metabolic panel - Blood',
          'LN',
        ],
        priority: 'S',
        timingPriority: ['S', 'Stat', 'HL70485'],
        stat: true,
      },
    ]);
  });

  it('v2.3: the priority from OBR-27.6 / ORC-7.6, else OBR-5', () => {
    const { content } = readReceivedOrder(Hl7Message.parse(RAD_ORDER));
    expect(content.lines[0]).toMatchObject({ priority: 'S', stat: true, timingPriority: null });
    const plain = RAD_ORDER.replace('|||||^^^^^S|', '||||||').replace(
      'Chest 2 views^C4|S|',
      'Chest 2 views^C4|R|',
    );
    expect(readReceivedOrder(Hl7Message.parse(plain)).content.lines[0]?.priority).toBe('R');
  });

  it('refuses a message without any order', () => {
    const noOrder = LAB_ORDER.split('\r').slice(0, 3).join('\r') + '\r';
    expect(() => readReceivedOrder(Hl7Message.parse(noOrder))).toThrow(/no order/);
  });

  it('copies segments into a message with other delimiters, escaping what became a delimiter', () => {
    const other: Hl7Delimiters = {
      field: '|',
      component: '#',
      repetition: '~',
      escape: '\\',
      subcomponent: '&',
    };
    expect(translateRaw('A^B#C~D\\T\\', DEFAULT_DELIMITERS, other)).toBe('A#B\\S\\C~D\\T\\');
    const target = Hl7Message.create({ messageType: 'ACK', delimiters: other, controlId: 'X' });
    const pid = Hl7Message.parse(LAB_ORDER).segment('PID')!;
    copySegment(target, pid);
    expect(target.segment('PID')?.get(5, 1, 2)).toBe('Anna');
    expect(target.segment('PID')?.get(3, 2, 5)).toBe('MR');
  });
});

describe('answers to orders', () => {
  it('ORR^O02 AA: MSA, PID, ORC OK with placer echoed and filler assigned, OBR with OBR-4 as received', () => {
    const received = readReceivedOrder(Hl7Message.parse(LAB_ORDER));
    const answer = buildOrderAnswer(received, {
      code: 'AA',
      sendingApplication: 'SIMLIS',
      sendingFacility: 'NWH-LAB',
      lines: [{ line: 0, orderControl: 'OK', fillerOrderNumber: 'F100' }],
      now: AT,
      controlId: 'ACK1',
    });
    expect(text(answer)).toEqual([
      'MSH|^~\\&|SIMLIS|NWH-LAB|ANCILLARY-HUB|NWH|20260105080001+0000||ORR^O02^ORR_O02|ACK1|P|2.5.1||||||UNICODE UTF-8',
      'MSA|AA|O1',
      'PID|1||E99^^^&urn:oid:1.2.3&ISO^PI~40001234^^^NWH^MR||Müller^Anna^J||19700101|F',
      'ORC|OK|PLC-1^ANCILLARY-HUB|F100^SIMLIS||||||20260105080001+0000',
      'OBR|1|PLC-1^ANCILLARY-HUB|F100^SIMLIS|BMP^Basic metabolic panel^L^51990-0^Basic metabolic panel - Blood^LN',
    ]);
  });

  it('ORL^O22 for OML^O21; AR with ERR (v2.5+) and ORC-1 UA, no filler', () => {
    const oml = LAB_ORDER.replace('ORM^O01^ORM_O01', 'OML^O21^OML_O21');
    const answer = buildOrderAnswer(readReceivedOrder(Hl7Message.parse(oml)), {
      code: 'AR',
      text: 'Unknown test',
      errors: [{ hl7ErrorCode: '103', segment: 'OBR', field: 4, text: 'Unknown test code ZZ1' }],
      sendingApplication: 'SIMLIS',
      sendingFacility: 'NWH-LAB',
      lines: [{ line: 0, orderControl: 'UA', fillerOrderNumber: null }],
      now: AT,
      controlId: 'ACK2',
    });
    expect(text(answer).slice(0, 5)).toEqual([
      'MSH|^~\\&|SIMLIS|NWH-LAB|ANCILLARY-HUB|NWH|20260105080001+0000||ORL^O22^ORL_O22|ACK2|P|2.5.1||||||UNICODE UTF-8',
      'MSA|AR|O1|Unknown test',
      'ERR||OBR^1^4|103^Table value not found^HL70357|E||||Unknown test code ZZ1',
      'PID|1||E99^^^&urn:oid:1.2.3&ISO^PI~40001234^^^NWH^MR||Müller^Anna^J||19700101|F',
      'ORC|UA|PLC-1^ANCILLARY-HUB|||||||20260105080001+0000',
    ]);
  });

  it('v2.3: ORR^O02 without structure, AE with the text in MSA-3 and ERR-1, and no ORC', () => {
    const answer = buildOrderAnswer(readReceivedOrder(Hl7Message.parse(RAD_ORDER)), {
      code: 'AE',
      text: 'busy',
      errors: [{ hl7ErrorCode: '207', text: 'busy' }],
      sendingApplication: 'SIMRIS',
      sendingFacility: 'NWH-RAD',
      lines: [],
      now: AT,
      controlId: 'ACK3',
    });
    expect(text(answer)).toEqual([
      'MSH|^~\\&|SIMRIS|NWH-RAD|ANCILLARY-HUB|NWH|20260105080001+0000||ORR^O02|ACK3|P|2.3||||||8859/1',
      'MSA|AE|R1|busy|||207^Application internal error^HL70357',
      'ERR|^^^207&Application internal error&HL70357',
    ]);
  });

  it('RRE^O12 echoes RXE and the route once', () => {
    const answer = buildOrderAnswer(readReceivedOrder(Hl7Message.parse(RX_ORDER)), {
      code: 'AA',
      sendingApplication: 'SIMRX',
      sendingFacility: 'NWH-RX',
      lines: [{ line: 0, orderControl: 'OK', fillerOrderNumber: 'RX1' }],
      now: AT,
      controlId: 'ACK4',
    });
    expect(text(answer).slice(1)).toEqual([
      'MSA|AA|P1',
      'PID|1||40009999^^^NWH^MR||Nakamura^Hiroshi||19800303|M',
      'ORC|OK|RXP-1^ANCILLARY-HUB|RX1^SIMRX||||||20260105080001+0000',
      'RXE||99901-0101-30^Amlodipine 5 mg tablet^NDC|5||mg^mg^UCUM|||||30|TAB|2',
      'RXR|PO^Oral^HL70162',
    ]);
    expect(answer.get('MSH-9.3')).toBe('RRE_O12');
  });

  it('a status update: ORM^O01, ORC-1 SC, ORC-5 IP, the order as received', () => {
    const update = buildOrderStatusUpdate(readReceivedOrder(Hl7Message.parse(LAB_ORDER)), {
      status: 'IP',
      line: 0,
      fillerOrderNumber: 'F100',
      version: '2.5.1',
      controlId: 'S1',
      sendingApplication: 'SIMLIS',
      sendingFacility: 'NWH-LAB',
      receivingApplication: 'ANCILLARY-HUB',
      receivingFacility: 'NWH',
      now: AT,
    });
    expect(text(update)).toEqual([
      'MSH|^~\\&|SIMLIS|NWH-LAB|ANCILLARY-HUB|NWH|20260105080001+0000||ORM^O01^ORM_O01|S1|P|2.5.1||||||UNICODE UTF-8',
      'PID|1||E99^^^&urn:oid:1.2.3&ISO^PI~40001234^^^NWH^MR||Müller^Anna^J||19700101|F',
      'PV1|1|I|4W^412^B^NWH',
      'ORC|SC|PLC-1^ANCILLARY-HUB|F100^SIMLIS||IP||||20260105080001+0000',
      'OBR|1|PLC-1^ANCILLARY-HUB|F100^SIMLIS|BMP^Basic metabolic panel^L^51990-0^Basic metabolic panel - Blood^LN',
    ]);
  });
});

describe('the LIS result for a received order', () => {
  const catalogue = labCatalogueFromTerminology(terminology, 'NWH-LAB');

  it('maps OBR-4 through orderables, single lab codes and LOINC; unknown codes are not run', () => {
    expect(resolveLabOrderable(terminology, catalogue, 'BMP', 'L')?.components).toHaveLength(8);
    expect(resolveLabOrderable(terminology, catalogue, '51990-0', 'LN')?.localCode).toBe('BMP');
    expect(resolveLabOrderable(terminology, catalogue, 'K', 'L')).toMatchObject({
      localCode: 'K',
      components: ['K'],
      specimenType: 'SER',
    });
    expect(resolveLabOrderable(terminology, catalogue, 'ZZ999', 'L')).toBeUndefined();
  });

  it('writes the received order: placer namespace, OBR-4 as received, TQ1-9 and OBR-27.6', () => {
    const received = readReceivedOrder(Hl7Message.parse(LAB_ORDER));
    const ordered = received.content.lines[0]!;
    const generator = new LisTrafficGenerator({ catalogue, seed: 9, runId: 'U1' });
    const result = Hl7Message.parse(
      generator.resultFor({
        orderable: resolveLabOrderable(terminology, catalogue, 'BMP', 'L')!,
        patient: syntheticPatientFrom(received),
        placerOrderNumber: ordered.placerOrderNumber,
        placerNamespace: ordered.placerNamespace,
        fillerOrderNumber: 'F100',
        orderCode: ordered.orderCode,
        priority: ordered.priority,
        timingPriority: ordered.timingPriority!,
        controlId: 'RES1',
        collectedAt: new Date('2026-01-05T08:00:00Z'),
      }).bytes,
    );
    expect(result.controlId).toBe('RES1');
    expect(result.getRaw('PID-3')).toBe('40001234^^^NWH^MR');
    expect(result.getRaw('PV1-3')).toBe('4W^412^B^NWH');
    expect(result.getRaw('ORC-2')).toBe('PLC-1^ANCILLARY-HUB');
    expect(result.getRaw('OBR-3')).toBe('F100^SIMLIS');
    expect(result.getRaw('OBR-4')).toBe(
      'BMP^Basic metabolic panel^L^51990-0^Basic metabolic panel - Blood^LN',
    );
    expect(result.get('OBR-7')).toBe('20260105080000+0000');
    expect(result.get('OBR-25')).toBe('F');
    expect(result.getRaw('OBR-27')).toBe('^^^^^S');
    expect(result.segment('TQ1')?.toString()).toBe('TQ1|1||||||||S^Stat^HL70485');
    // TQ1 follows the order's OBR (and notes), before the observations
    const names = result.segments().map((s) => s.name);
    expect(names.indexOf('TQ1')).toBeGreaterThan(names.indexOf('OBR'));
    expect(names.indexOf('TQ1')).toBeLessThan(names.indexOf('OBX'));
    expect(generator.counts.result).toBe(1);
  });
});

describe('imaging reports', () => {
  const procedure = terminology.mapImagingProcedure('NWH-RAD', '71046', 'C4');

  it('draws reports from the procedure, deterministic per seed', () => {
    const a = drawImagingReport(new SeededRandom(1), procedure, { abnormalShare: 1 });
    const b = drawImagingReport(new SeededRandom(1), procedure, { abnormalShare: 1 });
    expect(a).toEqual(b);
    expect(a.abnormal).toBe(true);
    expect(a.impression[0]).toMatch(/^1\. /);
    const normal = drawImagingReport(new SeededRandom(1), procedure, { abnormalShare: 0 });
    expect(normal).toMatchObject({
      abnormal: false,
      impression: ['No acute cardiopulmonary process.'],
    });
    expect(normal.history).toBe('Not provided.');
    expect(syntheticStudyUid(new SeededRandom(2))).toMatch(
      /^1\.2\.826\.0\.1\.3680043\.8\.498\.[1-9]\d{25}$/,
    );
  });

  it('ORU^R01 v2.3: TX body lines, FT impression with \\.br\\, study UID, accession, interpreter', () => {
    const received = readReceivedOrder(Hl7Message.parse(RAD_ORDER));
    const message = buildImagingReportMessage({
      received,
      line: 0,
      procedure,
      report: {
        examination: 'XR chest PA and lateral',
        history: 'Cough & fever',
        technique: 'PA and lateral views of the chest.',
        comparison: 'None.',
        findings: ['Lungs clear.', 'Heart & mediastinum normal.'],
        impression: ['1. No acute process.', '2. No change.'],
        abnormal: false,
      },
      accessionNumber: 'A100',
      studyInstanceUid: '1.2.826.0.1.3680043.8.498.1',
      interpreter: RADIOLOGISTS[0]!,
      controlId: 'RPT1',
      sendingApplication: 'SIMRIS',
      sendingFacility: 'NWH-RAD',
      receivingApplication: 'ANCILLARY-HUB',
      receivingFacility: 'NWH',
      performedAt: new Date('2026-01-05T08:10:00Z'),
      now: new Date('2026-01-05T08:30:00Z'),
    });
    const observer = '1740000011^Lindqvist^Maja';
    const obx = (n: number, type: string, code: string, sub: string, value: string): string =>
      `OBX|${n}|${type}|${code}|${sub}|${value}||||||F|||20260105081000+0000||${observer}`;
    const gdt = '18782-3^Study observation^LN';
    expect(text(message)).toEqual([
      'MSH|^~\\&|SIMRIS|NWH-RAD|ANCILLARY-HUB|NWH|20260105083000+0000||ORU^R01|RPT1|P|2.3||||||8859/1',
      'PID|1||40005678^^^NWH^MR||Dubois^Léa||19551212|F',
      'PV1|1|O',
      'ORC|RE|RAD-1^ANCILLARY-HUB|A100^SIMRIS||CM||^^^^^S||20260105083000+0000|||2222^Gray^Henry',
      'OBR|1|RAD-1^ANCILLARY-HUB|A100^SIMRIS|XRCH2V^XR chest PA and lateral^L|S||20260105081000+0000|||||||||2222^Gray^Henry||A100||||20260105083000+0000||RX|F||^^^^^S|||||1740000011&Lindqvist&Maja',
      obx(1, 'TX', gdt, '1', 'EXAMINATION: XR chest PA and lateral'),
      obx(2, 'TX', gdt, '1', 'CLINICAL HISTORY: Cough \\T\\ fever'),
      obx(3, 'TX', gdt, '1', 'TECHNIQUE: PA and lateral views of the chest.'),
      obx(4, 'TX', gdt, '1', 'COMPARISON: None.'),
      obx(5, 'TX', gdt, '1', 'FINDINGS:'),
      obx(6, 'TX', gdt, '1', 'Lungs clear.'),
      obx(7, 'TX', gdt, '1', 'Heart \\T\\ mediastinum normal.'),
      obx(8, 'FT', '19005-8^Impression^LN', '2', '1. No acute process.\\.br\\2. No change.'),
      obx(9, 'ST', '113014^Study Instance UID^DCM', '3', '1.2.826.0.1.3680043.8.498.1'),
    ]);
    // the FT impression reads back as two lines
    expect(message.segments('OBX')[7]?.getText(5)).toBe('1. No acute process.\n2. No change.');
  });

  it('the suffix style codes sections as <CPT>&GDT / <CPT>&IMP', () => {
    const message = buildImagingReportMessage({
      received: readReceivedOrder(Hl7Message.parse(RAD_ORDER)),
      line: 0,
      procedure,
      report: drawImagingReport(new SeededRandom(4), procedure),
      accessionNumber: 'A100',
      studyInstanceUid: '1.2.3',
      interpreter: RADIOLOGISTS[1]!,
      controlId: 'RPT2',
      sendingApplication: 'SIMRIS',
      sendingFacility: 'NWH-RAD',
      receivingApplication: 'ANCILLARY-HUB',
      receivingFacility: 'NWH',
      performedAt: AT,
      now: AT,
      sectionStyle: 'suffix',
    });
    const codes = message.segments('OBX').map((s) => s.getRaw(3));
    expect(new Set(codes)).toEqual(
      new Set([
        '71046&GDT^Radiologic examination, chest; 2 views^C4',
        '71046&IMP^Impression^C4',
        '113014^Study Instance UID^DCM',
      ]),
    );
  });
});

describe('dispenses', () => {
  const formulary = terminology.formularyByRxnorm('NWH-RX', '197361');

  it('finds the formulary row by NDC (any form), RxNorm or local code', () => {
    const find = (code: string, system: string | null) =>
      resolveFormularyEntry(terminology, 'NWH-RX', [{ code, system, display: null }])?.localCode;
    expect(find('99901010130', 'NDC')).toBe('AMLO5');
    expect(find('197361', 'RXNORM')).toBe('AMLO5');
    expect(find('AMLO5', 'L')).toBe('AMLO5');
    expect(find('000000', 'RXNORM')).toBeUndefined();
  });

  it('RDS^O13: ORC RE, the encoding as ordered, RXD with NDC, quantity, prescription, pharmacist', () => {
    const message = buildDispenseMessage({
      received: readReceivedOrder(Hl7Message.parse(RX_ORDER)),
      line: 0,
      formulary,
      prescriptionNumber: 'RX1',
      pharmacist: PHARMACISTS[0]!,
      controlId: 'D1',
      sendingApplication: 'SIMRX',
      sendingFacility: 'NWH-RX',
      receivingApplication: 'ANCILLARY-HUB',
      receivingFacility: 'NWH',
      now: new Date('2026-01-05T09:00:00Z'),
    });
    expect(text(message)).toEqual([
      'MSH|^~\\&|SIMRX|NWH-RX|ANCILLARY-HUB|NWH|20260105090000+0000||RDS^O13^RDS_O13|D1|P|2.5.1||||||UNICODE UTF-8',
      'PID|1||40009999^^^NWH^MR||Nakamura^Hiroshi||19800303|M',
      'ORC|RE|RXP-1^ANCILLARY-HUB|RX1^SIMRX||CM||||20260105090000+0000|||3333^Patel^Priya',
      'RXE||99901-0101-30^Amlodipine 5 mg tablet^NDC|5||mg^mg^UCUM|||||30|TAB|2',
      'TQ1|1||QD||||||R^Routine^HL70485',
      'RXR|PO^Oral^HL70162',
      'RXD|1|99901-0101-30^Amlodipine 5 mg tablet (bottle of 30; synthetic)^NDC|20260105090000+0000|30|TAB||RX1|2||1650000013^Haddad^Layla^^^^PharmD',
      'RXR|PO^Oral^HL70162',
    ]);
  });

  it('FHIR MedicationDispense: codings, identifiers, quantity, days supply, performer', () => {
    const request: FhirMedicationRequestJson = {
      resourceType: 'MedicationRequest',
      dosageInstruction: [{ timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } } }],
      dispenseRequest: { quantity: { value: 30, unit: 'TAB' } },
    };
    expect(
      buildFhirMedicationDispense({
        request,
        formulary,
        placer: { system: 'urn:ancillary:placer-order', value: 'MRX-1' },
        patient: { system: 'NWH', value: '40009999' },
        dispenseId: 'RX1-1',
        dispenseSystem: 'urn:ancillary:dispense:pharmacy-main',
        pharmacist: PHARMACISTS[1]!,
        now: new Date('2026-01-05T09:00:00Z'),
      }),
    ).toEqual({
      resourceType: 'MedicationDispense',
      identifier: [{ system: 'urn:ancillary:dispense:pharmacy-main', value: 'RX1-1' }],
      status: 'completed',
      medicationCodeableConcept: {
        coding: [
          {
            system: 'http://hl7.org/fhir/sid/ndc',
            code: '99901-0101-30',
            display: 'Amlodipine 5 mg tablet (bottle of 30; synthetic)',
          },
          {
            system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
            code: '197361',
            display: 'amlodipine 5 MG Oral Tablet',
          },
        ],
        text: 'Amlodipine 5 mg tab',
      },
      subject: { identifier: { system: 'NWH', value: '40009999' } },
      performer: [
        {
          actor: {
            identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1650000021' },
            display: 'Tomasz Kowalczyk, PharmD',
          },
        },
      ],
      authorizingPrescription: [
        { identifier: { system: 'urn:ancillary:placer-order', value: 'MRX-1' } },
      ],
      quantity: { value: 30, unit: 'TAB' },
      daysSupply: { value: 30, unit: 'day', system: 'http://unitsofmeasure.org', code: 'd' },
      whenPrepared: '2026-01-05T09:00:00.000Z',
      whenHandedOver: '2026-01-05T09:00:00.000Z',
    });
  });

  it('days supply: the expected supply duration, else quantity over doses a day, else 30', () => {
    const base: FhirMedicationRequestJson = { resourceType: 'MedicationRequest' };
    expect(
      daysSupplyOf(
        { ...base, dispenseRequest: { expectedSupplyDuration: { value: 2, code: 'wk' } } },
        30,
      ),
    ).toBe(14);
    expect(
      daysSupplyOf(
        {
          ...base,
          dosageInstruction: [{ timing: { repeat: { frequency: 1, period: 8, periodUnit: 'h' } } }],
        },
        30,
      ),
    ).toBe(10);
    expect(
      daysSupplyOf(
        { ...base, dosageInstruction: [{ timing: { code: { coding: [{ code: 'BID' }] } } }] },
        30,
      ),
    ).toBe(15);
    expect(daysSupplyOf(base, 30)).toBe(30);
  });
});

describe('delay ranges', () => {
  it('reads a fixed delay or a range, refuses nonsense', () => {
    expect(parseDelayRange('2000')).toEqual({ minMs: 2000, maxMs: 2000 });
    expect(parseDelayRange('1000-3000')).toEqual({ minMs: 1000, maxMs: 3000 });
    expect(() => parseDelayRange('3000-1000')).toThrow(/min ≤ max/);
    expect(() => parseDelayRange('soon')).toThrow(/<min>-<max>/);
  });
});
