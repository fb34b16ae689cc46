import { Hl7Message } from '@ancillary/hl7-core';
import { loadTerminology, UnmappedCodeError } from '@ancillary/terminology';
import type { OrderCodes } from './order-codes';
import {
  buildOrderMessage,
  composeOrderMessage,
  hl7OrderPriority,
  OrderEncodingError,
  type OrderMessageOptions,
} from './order-message.builder';
import { imagingOrder, labOrder, medicationOrder } from './test/order-events';

const terminology = loadTerminology();
const NOW = new Date(Date.UTC(2026, 0, 15, 9, 0, 0));

function options(overrides: Partial<OrderMessageOptions> = {}): OrderMessageOptions {
  return {
    format: 'ORM^O01',
    version: '2.5.1',
    facility: 'NWH-LAB',
    sendingApplication: 'ANCILLARY-HUB',
    sendingFacility: 'NWH',
    receivingApplication: 'SIMLIS',
    receivingFacility: 'NWH-LAB',
    controlId: 'O0123456789ABCDEF012',
    now: NOW,
    ...overrides,
  };
}

/** The message as lines, one per segment. */
function lines(message: Hl7Message): string[] {
  const text = message.toString();
  expect(text.endsWith('\r')).toBe(true);
  return text.slice(0, -1).split('\r');
}

const PID =
  'PID|1||MRN-T-0001^^^NWH^MR~9990001^^^&urn:oid:2.16.840.1.113883.4.1&URI^SS||Testpatient^Alex^Jordan^^^^L||19800229|F||||||||||ENC-77';
const PV1 = 'PV1|1|O|||||||||||||||||ENC-77';
const CMP =
  'CMP^Comprehensive metabolic panel^L^24323-8^Comprehensive metabolic 2000 panel - Serum or Plasma^LN';
const PROVIDER = '1234567893^Clinician^Casey';
const REASON = 'E11.9^Type 2 diabetes mellitus without complications^I10';

describe('buildOrderMessage', () => {
  it('writes a lab order as ORM^O01 v2.5.1: local code with LOINC alternate, TQ1 priority, DG1 reason', () => {
    const message = buildOrderMessage(labOrder(), terminology, options());
    expect(lines(message)).toEqual([
      'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMLIS|NWH-LAB|20260115090000+0000||ORM^O01^ORM_O01|O0123456789ABCDEF012|P|2.5.1',
      PID,
      PV1,
      `ORC|NW|PLC-1001^ANCILLARY-HUB|||||||20260115090000+0000|||${PROVIDER}`,
      'TQ1|1||||||||R^Routine^HL70485',
      `OBR|1|PLC-1001^ANCILLARY-HUB||${CMP}|||||||||||SER&Serum&HL70487|${PROVIDER}|||||||||||||||${REASON}`,
      `DG1|1||${REASON}|||W`,
    ]);
    // and it reads back as what it means
    const parsed = Hl7Message.parse(message.toString());
    expect(parsed.messageType).toBe('ORM^O01');
    expect(parsed.get('OBR-4.1')).toBe('CMP');
    expect(parsed.get('OBR-4.6')).toBe('LN');
    expect(parsed.get('PID-3[2].4.2')).toBe('urn:oid:2.16.840.1.113883.4.1');
  });

  it('writes ORM^O01 v2.3 with the priority in ORC-7.6, OBR-5 and OBR-27.6 and no TQ1', () => {
    const message = buildOrderMessage(
      labOrder({ priority: 'stat' }),
      terminology,
      options({ version: '2.3' }),
    );
    const segments = lines(message);
    expect(segments[0]).toBe(
      'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMLIS|NWH-LAB|20260115090000+0000||ORM^O01|O0123456789ABCDEF012|P|2.3',
    );
    expect(segments).toEqual([
      segments[0],
      PID,
      PV1,
      `ORC|NW|PLC-1001^ANCILLARY-HUB|||||^^^^^S||20260115090000+0000|||${PROVIDER}`,
      `OBR|1|PLC-1001^ANCILLARY-HUB||${CMP}|S||||||||||SER&Serum&HL70487|${PROVIDER}|||||||||||^^^^^S||||${REASON}`,
      // DG1-4 description still used in v2.3
      `DG1|1||${REASON}|Type 2 diabetes mellitus without complications||W`,
    ]);
  });

  it('writes a lab order as OML^O21 v2.5.1 with SPM-4 specimen types', () => {
    const message = buildOrderMessage(
      labOrder({
        specimenTypes: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/v2-0487',
            code: 'SER',
            display: 'Serum',
          },
          { system: 'http://terminology.hl7.org/CodeSystem/v2-0487', code: 'UR', display: 'Urine' },
        ],
      }),
      terminology,
      options({ format: 'OML^O21' }),
    );
    expect(lines(message)).toEqual([
      'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMLIS|NWH-LAB|20260115090000+0000||OML^O21^OML_O21|O0123456789ABCDEF012|P|2.5.1',
      PID,
      PV1,
      `ORC|NW|PLC-1001^ANCILLARY-HUB|||||||20260115090000+0000|||${PROVIDER}`,
      'TQ1|1||||||||R^Routine^HL70485',
      `OBR|1|PLC-1001^ANCILLARY-HUB||${CMP}||||||||||||${PROVIDER}|||||||||||||||${REASON}`,
      `DG1|1||${REASON}|||W`,
      'SPM|1|||SER^Serum^HL70487',
      'SPM|2|||UR^Urine^HL70487',
    ]);
  });

  it('escapes the delimiters in free text: a note with | ^ & ~ \\ and a line break', () => {
    const note = 'Fasting | 12h ^ see & note ~ x \\ y\nrepeat if hemolysed';
    const message = buildOrderMessage(
      labOrder({ notes: [note, 'second'] }),
      terminology,
      options(),
    );
    const nte = lines(message).filter((l) => l.startsWith('NTE'));
    expect(nte).toEqual([
      'NTE|1|P|Fasting \\F\\ 12h \\S\\ see \\T\\ note \\R\\ x \\E\\ y\\.br\\repeat if hemolysed',
      'NTE|2|P|second',
    ]);
    // NTE follows OBR (before DG1), and a receiver gets the text back
    expect(lines(message).map((l) => l.slice(0, 3))).toEqual([
      'MSH',
      'PID',
      'PV1',
      'ORC',
      'TQ1',
      'OBR',
      'NTE',
      'NTE',
      'DG1',
    ]);
    expect(Hl7Message.parse(message.toString()).getText('NTE-3')).toBe(note);
  });

  it('escapes names, identifiers and displays as well, and declares UTF-8 only for non-ASCII text', () => {
    const order = labOrder({
      patient: {
        ...labOrder().patient,
        familyName: 'Müller|Smith',
        identifiers: [{ value: 'A^1', system: 'NWH', type: 'MR' }],
      },
      requester: { identifier: 'P&1', familyName: null, givenName: null, display: 'Dr. Ng ~ Lee' },
    });
    const message = buildOrderMessage(order, terminology, options());
    const msh = lines(message)[0]!;
    expect(msh.endsWith('|P|2.5.1||||||UNICODE UTF-8')).toBe(true);
    const pid = lines(message)[1]!;
    expect(pid).toBe(
      'PID|1||A\\S\\1^^^NWH^MR||Müller\\F\\Smith^Alex^Jordan^^^^L||19800229|F||||||||||ENC-77',
    );
    // a requester known by display only: the display in XCN.2
    expect(message.get('ORC-12.1')).toBe('P&1');
    expect(message.get('ORC-12.2')).toBe('Dr. Ng ~ Lee');
    expect(message.getRaw('ORC-12')).toBe('P\\T\\1^Dr. Ng \\R\\ Lee');
    expect(Buffer.from(message.toBytes()).toString('utf8')).toContain('Müller');
    // ASCII-only messages leave MSH-18 empty
    expect(lines(buildOrderMessage(labOrder(), terminology, options()))[0]).toMatch(/\|2\.5\.1$/);
  });

  it('sends a cancellation with ORC-1 CA and the filler number in ORC-3 / OBR-3 (imaging, CPT)', () => {
    const message = buildOrderMessage(
      imagingOrder({ action: 'CANCEL', fillerOrderNumber: 'RIS-555', priority: 'asap' }),
      terminology,
      options({
        facility: 'NWH-RAD',
        receivingApplication: 'SIMRIS',
        receivingFacility: 'NWH-RAD',
        version: '2.3',
      }),
    );
    expect(lines(message).slice(3)).toEqual([
      `ORC|CA|PLC-2001^ANCILLARY-HUB|RIS-555^SIMRIS||||^^^^^A||20260115090000+0000|||${PROVIDER}`,
      `OBR|1|PLC-2001^ANCILLARY-HUB|RIS-555^SIMRIS|XRCH2V^XR chest PA and lateral^L^71046^Radiologic examination, chest; 2 views^C4|A|||||||||||${PROVIDER}|||||||||||^^^^^A||||R05.9^Cough, unspecified^I10`,
      'DG1|1||R05.9^Cough, unspecified^I10|Cough, unspecified||W',
    ]);
  });

  it('repeats OBR-31 and DG1 for several reasons, SNOMED as SCT', () => {
    const message = buildOrderMessage(
      labOrder({
        reasons: [
          { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'E11.9', display: 'T2DM' },
          { system: 'http://snomed.info/sct', code: '38341003', display: 'Hypertension' },
        ],
      }),
      terminology,
      options(),
    );
    expect(message.getRaw('OBR-31')).toBe('E11.9^T2DM^I10~38341003^Hypertension^SCT');
    expect(message.getAll('DG1-3')).toEqual(['E11.9', '38341003']);
    expect(message.getAll('DG1-1')).toEqual(['1', '2']);
  });

  it('leaves out what the order does not have: no requester, reasons, visit or filler', () => {
    const message = buildOrderMessage(
      labOrder({ requester: null, reasons: [], encounterId: null, specimenTypes: [] }),
      terminology,
      options(),
    );
    expect(lines(message).slice(2)).toEqual([
      'PV1|1|O',
      'ORC|NW|PLC-1001^ANCILLARY-HUB|||||||20260115090000+0000',
      'TQ1|1||||||||R^Routine^HL70485',
      `OBR|1|PLC-1001^ANCILLARY-HUB||${CMP}`,
    ]);
  });

  it('writes a medication order as RDE^O11 v2.5.1: RXO local+RxNorm, RXE NDC, TQ1 frequency, RXR route', () => {
    const message = buildOrderMessage(
      medicationOrder({ priority: 'urgent' }),
      terminology,
      options({
        format: 'RDE^O11',
        facility: 'NWH-RX',
        receivingApplication: 'SIMRX',
        receivingFacility: 'NWH-RX',
      }),
    );
    expect(lines(message).slice(3)).toEqual([
      `ORC|NW|PLC-3001^ANCILLARY-HUB|||||||20260115090000+0000|||${PROVIDER}`,
      'RXO|AMLO5^Amlodipine 5 mg tab^L^197361^amlodipine 5 MG Oral Tablet^RXNORM|5||mg^mg^UCUM|||||||30|TAB|2',
      'RXR|26643006^Oral route^SCT',
      'RXE||99901-0101-30^Amlodipine 5 mg tablet (bottle of 30; synthetic)^NDC|5||mg^mg^UCUM|^Oral Tablet|^Take 1 tablet by mouth once daily|||30|TAB|2',
      'TQ1|1||QD||||||A^ASAP^HL70485',
      'RXR|26643006^Oral route^SCT',
    ]);
    expect(lines(message)[0]).toContain('|RDE^O11^RDE_O11|');
  });

  it('writes RDE^O11 v2.4 with the frequency and priority in ORC-7 / RXE-1 (TQ) instead of TQ1', () => {
    const message = buildOrderMessage(
      medicationOrder({ action: 'CANCEL', priority: 'stat' }),
      terminology,
      options({ format: 'RDE^O11', version: '2.4', facility: 'NWH-RX' }),
    );
    expect(message.get('ORC-1')).toBe('CA');
    expect(message.getRaw('ORC-7')).toBe('^QD^^^^S');
    expect(message.getRaw('RXE-1')).toBe('^QD^^^^S');
    expect(message.segments('TQ1')).toHaveLength(0);
  });

  it('refuses formats that cannot carry the order', () => {
    expect(() =>
      buildOrderMessage(labOrder(), terminology, options({ format: 'RDE^O11' })),
    ).toThrow(OrderEncodingError);
    expect(() =>
      buildOrderMessage(medicationOrder(), terminology, options({ facility: 'NWH-RX' })),
    ).toThrow(OrderEncodingError);
    expect(() =>
      buildOrderMessage(labOrder(), terminology, options({ format: 'OML^O21', version: '2.4' })),
    ).toThrow(/OML\^O21 needs HL7 v2\.5/);
  });

  it('throws UnmappedCodeError for a code the facility cannot be ordered in', () => {
    expect(() =>
      buildOrderMessage(
        labOrder({ code: { system: 'http://loinc.org', code: '99999-9', display: null } }),
        terminology,
        options(),
      ),
    ).toThrow(UnmappedCodeError);
  });
});

describe('composeOrderMessage', () => {
  it('takes already-mapped codes (no terminology) and writes an unknown code system URI as it is', () => {
    const codes: OrderCodes = {
      ordered: {
        localCode: 'X1',
        localSystem: '99LOC',
        localDisplay: 'Local test',
        code: { system: 'http://example.org/codes', code: 'S-1', display: 'Std' },
      },
      formulary: null,
    };
    const message = composeOrderMessage(labOrder(), codes, options());
    expect(message.getRaw('OBR-4')).toBe('X1^Local test^99LOC^S-1^Std^http://example.org/codes');
  });
});

describe('hl7OrderPriority', () => {
  it('maps FHIR request-priority to table 0027', () => {
    expect(
      ['stat', 'asap', 'urgent', 'routine', 'STAT', '', null, 'whenever', 'S'].map(
        hl7OrderPriority,
      ),
    ).toEqual(['S', 'A', 'A', 'R', 'S', 'R', 'R', 'R', 'S']);
  });
});
