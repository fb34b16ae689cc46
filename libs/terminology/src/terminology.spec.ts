import { LOINC_SYSTEM } from './code-systems';
import { UnmappedCodeError } from './terminology.errors';
import { loadTerminology, parseTerminology } from './terminology.loader';
import { shippedFiles, withRows } from './test/terminology-files';

function unmapped(fn: () => unknown): UnmappedCodeError {
  try {
    fn();
  } catch (error) {
    if (error instanceof UnmappedCodeError) return error;
    throw error;
  }
  throw new Error('expected an UnmappedCodeError');
}

describe('Terminology', () => {
  const t = loadTerminology();

  describe('mapLabCode', () => {
    it('maps a local code with its system, or without one', () => {
      expect(t.mapLabCode('NWH-LAB', 'GLU', 'L')).toMatchObject({
        loincCode: '2345-7',
        loincDisplay: 'Glucose [Mass/volume] in Serum or Plasma',
        ucumUnit: 'mg/dL',
        source: { file: 'lab-codes.csv' },
      });
      expect(t.mapLabCode('NWH-LAB', ' GLU ', '').loincCode).toBe('2345-7');
      expect(t.mapLabCode('NWH-LAB', 'GLU', null).loincCode).toBe('2345-7');
      expect(t.mapLabCode('NWH-LAB', 'GLU', 'l').loincCode).toBe('2345-7');
    });

    it('maps per facility: the same code means different things at different labs', () => {
      expect(t.mapLabCode('EAST-LAB', '1006', '99EAST')).toMatchObject({
        loincCode: '14682-9',
        ucumUnit: 'umol/L',
      });
      expect(t.mapLabCode('NWH-LAB', 'CREA').loincCode).toBe('2160-0');
      expect(unmapped(() => t.mapLabCode('EAST-LAB', 'CREA', '99EAST')).facility).toBe('EAST-LAB');
    });

    it('says precisely what is not mapped', () => {
      const error = unmapped(() => t.mapLabCode('NWH-LAB', 'GLUX', 'L'));
      expect(error.message).toBe(
        'no LOINC mapping for local code "GLUX" (system L) from sending facility NWH-LAB',
      );
      expect(error).toMatchObject({
        name: 'UnmappedCodeError',
        kind: 'lab-code',
        facility: 'NWH-LAB',
        code: 'GLUX',
        system: 'L',
        retriable: false,
        terminologyVersion: t.version,
      });
      expect(unmapped(() => t.mapLabCode('NWH-LAB', 'GLUX')).message).toBe(
        'no LOINC mapping for local code "GLUX" (no coding system) from sending facility NWH-LAB',
      );
    });

    it('refuses a known code sent in another coding system, naming the row', () => {
      expect(unmapped(() => t.mapLabCode('NWH-LAB', 'GLU', '99OTHER')).message).toMatch(
        /^no LOINC mapping for local code "GLU" \(system 99OTHER\) from sending facility NWH-LAB: lab-codes\.csv line \d+ maps "GLU" in system L only$/,
      );
    });

    it('refuses a facility that is not in facilities.csv', () => {
      expect(unmapped(() => t.mapLabCode('MAINLAB', 'GLU', 'L')).message).toBe(
        'no LOINC mapping for local code "GLU" (system L) from sending facility MAINLAB: the facility is not in facilities.csv',
      );
    });

    it('accepts a LOINC sent as the code only when the facility maps one of its codes to it', () => {
      expect(t.mapLabCode('NWH-LAB', '718-7', 'LN')).toMatchObject({ localCode: 'HGB' });
      expect(t.mapLabCode('NWH-LAB', '718-7', LOINC_SYSTEM).localCode).toBe('HGB');
      const error = unmapped(() => t.mapLabCode('NWH-LAB', '14682-9', 'LN'));
      expect(error.message).toBe(
        'LOINC 14682-9 sent as local code by sending facility NWH-LAB is not mapped from any of its codes in lab-codes.csv',
      );
      expect(error.system).toBe('LN');
    });
  });

  describe('mapOrderable', () => {
    it('maps panels and reports unmapped ones as kind orderable', () => {
      expect(t.mapOrderable('NWH-LAB', 'CMP', 'L')).toMatchObject({
        loincCode: '24323-8',
        specimenType: 'SER',
      });
      expect(t.mapOrderable('NWH-LAB', '57021-8', 'LN').localCode).toBe('CBCD');
      const error = unmapped(() => t.mapOrderable('NWH-LAB', 'XPANEL', 'L'));
      expect(error.kind).toBe('orderable');
      expect(error.message).toBe(
        'no LOINC mapping for orderable "XPANEL" (system L) from sending facility NWH-LAB',
      );
    });
  });

  describe('labCodes / orderables', () => {
    it('lists a facility table in file order for simulators', () => {
      const codes = t.labCodes('NWH-LAB');
      expect(codes[0]?.localCode).toBe('NA');
      expect(codes.every((c) => c.facility === 'NWH-LAB')).toBe(true);
      const bmp = t.orderables('NWH-LAB').find((o) => o.localCode === 'BMP');
      expect(bmp?.components).toEqual(['NA', 'K', 'CL', 'CO2', 'BUN', 'CREA', 'GLU', 'CA']);
    });

    it('refuses an unknown facility, listing the known ones', () => {
      expect(() => t.labCodes('NOPE')).toThrow(
        'facility "NOPE" is not in facilities.csv (known: NWH-LAB, EAST-LAB, NWH-RAD, NWH-RX)',
      );
      expect(() => t.orderables('NOPE')).toThrow(RangeError);
    });
  });

  describe('mapUnit', () => {
    it.each([
      ['mmol/L', 'mmol/L'],
      ['K/uL', '10*3/uL'],
      ['x10E3/uL', '10*3/uL'],
      ['uIU/mL', 'm[IU]/L'],
      ['sec', 's'],
      ['%', '%'],
      [' mg/dL ', 'mg/dL'],
      ['MG/DL', 'mg/dL'],
      ['µmol/L', 'umol/L'],
    ])('maps %j to UCUM %s', (unit, ucum) => {
      expect(t.mapUnit(unit).ucumUnit).toBe(ucum);
    });

    it('reports an unknown unit', () => {
      const error = unmapped(() => t.mapUnit('furlongs/fortnight'));
      expect(error).toMatchObject({ kind: 'unit', facility: null, code: 'furlongs/fortnight' });
      expect(error.message).toBe('no UCUM mapping for unit "furlongs/fortnight" (units.csv)');
    });

    it('does not guess between rows that differ only in case but mean different units', () => {
      const files = shippedFiles();
      const custom = parseTerminology({
        ...files,
        'units.csv': withRows(files['units.csv'], 'Ms,Ms,megasecond', 'ms,ms,millisecond'),
      });
      expect(custom.mapUnit('ms').ucumUnit).toBe('ms');
      expect(unmapped(() => custom.mapUnit('MS')).message).toBe(
        'no UCUM mapping for unit "MS": units.csv has "Ms" → Ms, "ms" → ms, which differ only in letter case; add a row for "MS"',
      );
    });

    it('refuses a blank unit: no unit is not a unit to map', () => {
      expect(() => t.mapUnit('  ')).toThrow(RangeError);
    });
  });

  describe('mapFlag', () => {
    it.each([
      ['H', 'H', false],
      ['l', 'L', false],
      ['HH', 'HH', true],
      ['LL', 'LL', true],
      ['AA', 'AA', true],
      ['A', 'A', false],
      ['N', 'N', false],
      ['<', '<', false],
      ['>', '>', false],
    ])('maps table 0078 %s to v3 %s (critical %s)', (flag, code, critical) => {
      expect(t.mapFlag(flag)).toMatchObject({ interpretationCode: code, critical });
    });

    it('knows which interpretation codes come from critical flags', () => {
      expect(t.isCriticalInterpretation('HH')).toBe(true);
      expect(t.isCriticalInterpretation('AA')).toBe(true);
      expect(t.isCriticalInterpretation('H')).toBe(false);
    });

    it('reports an unknown flag', () => {
      const error = unmapped(() => t.mapFlag('QCF'));
      expect(error).toMatchObject({ kind: 'flag', code: 'QCF', system: 'HL70078' });
      expect(error.message).toBe(
        'no interpretation mapping for abnormal flag "QCF" (HL7 table 0078, flags.csv)',
      );
    });
  });

  describe('critical ranges', () => {
    it('gives the panic limits of a LOINC in a unit', () => {
      expect(t.criticalRangeFor('2823-3', 'mmol/L')).toMatchObject({
        criticalLow: 2.8,
        criticalHigh: 6.2,
        description: 'Potassium',
      });
      expect(t.criticalRangeFor('6301-6', null)).toMatchObject({
        criticalLow: null,
        criticalHigh: 5,
      });
    });

    it('tells "no range" from "a range in another unit"', () => {
      expect(t.criticalRangesFor('1742-6')).toEqual([]);
      expect(t.criticalRangeFor('2345-7', 'mmol/L')).toBeUndefined();
      expect(t.criticalRangesFor('2345-7')).toHaveLength(1);
    });
  });

  describe('codeSystemUri', () => {
    it('uses standard URIs for standard systems and the facility URI for local ones', () => {
      expect(t.codeSystemUri('NWH-LAB', 'LN')).toBe('http://loinc.org');
      expect(t.codeSystemUri('NWH-LAB', 'HL70487')).toBe(
        'http://terminology.hl7.org/CodeSystem/v2-0487',
      );
      expect(t.codeSystemUri('NWH-LAB', 'L')).toBe(
        'http://northwind-hospital.example.org/fhir/CodeSystem/lab-local',
      );
      expect(t.codeSystemUri('EAST-LAB', '')).toBe(
        'http://east-campus.example.org/fhir/CodeSystem/lab-local',
      );
      expect(t.codeSystemUri('UNKNOWN', 'L')).toBeNull();
    });
  });

  it('summarises itself for the start-up log line', () => {
    expect(t.summary()).toMatchObject({
      version: t.version,
      contentHash: t.contentHash,
      facilities: 4,
      orderRoutes: 3,
      orderRules: 4,
      imagingProcedures: 10,
      formulary: 12,
    });
  });
});
