import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TerminologyLoadError, formatIssue, type TerminologyIssue } from './terminology.errors';
import {
  DEFAULT_TERMINOLOGY_DIR,
  loadTerminology,
  parseTerminology,
  type TerminologyFiles,
} from './terminology.loader';
import { copyOfShippedDir, shippedFiles, withRows } from './test/terminology-files';

/** Parses files expected to be invalid and returns the issues. */
function issuesOf(files: TerminologyFiles): readonly TerminologyIssue[] {
  try {
    parseTerminology(files, 'test');
  } catch (error) {
    if (error instanceof TerminologyLoadError) return error.issues;
    throw error;
  }
  throw new Error('expected the terminology to be refused');
}

describe('the shipped tables', () => {
  const terminology = loadTerminology();

  it('load from the lib directory by default, with a version and a content hash', () => {
    expect(terminology.source).toBe(DEFAULT_TERMINOLOGY_DIR);
    expect(terminology.version).toMatch(/^\d{4}\.\d+\.\d+$/);
    expect(terminology.contentHash).toMatch(/^[0-9a-f]{64}$/);
  });

  // The starter set of the brief, with the public LOINC codes (loinc.org).
  it.each([
    ['NA', '2951-2', 'mmol/L'],
    ['K', '2823-3', 'mmol/L'],
    ['CL', '2075-0', 'mmol/L'],
    ['CO2', '2028-9', 'mmol/L'],
    ['BUN', '3094-0', 'mg/dL'],
    ['CREA', '2160-0', 'mg/dL'],
    ['GLU', '2345-7', 'mg/dL'],
    ['CA', '17861-6', 'mg/dL'],
    ['ALB', '1751-7', 'g/dL'],
    ['TP', '2885-2', 'g/dL'],
    ['ALT', '1742-6', 'U/L'],
    ['AST', '1920-8', 'U/L'],
    ['ALP', '6768-6', 'U/L'],
    ['TBIL', '1975-2', 'mg/dL'],
    ['CHOL', '2093-3', 'mg/dL'],
    ['HDL', '2085-9', 'mg/dL'],
    ['LDLC', '13457-7', 'mg/dL'],
    ['TRIG', '2571-8', 'mg/dL'],
    ['TSH', '3016-3', 'm[IU]/L'],
    ['HBA1C', '4548-4', '%'],
    ['TROPI', '10839-9', 'ng/mL'],
    ['LACT', '2524-7', 'mmol/L'],
    ['CRP', '1988-5', 'mg/L'],
    ['WBC', '6690-2', '10*3/uL'],
    ['RBC', '789-8', '10*6/uL'],
    ['HGB', '718-7', 'g/dL'],
    ['HCT', '4544-3', '%'],
    ['MCV', '787-2', 'fL'],
    ['MCH', '785-6', 'pg'],
    ['MCHC', '786-4', 'g/dL'],
    ['RDW', '788-0', '%'],
    ['PLT', '777-3', '10*3/uL'],
    ['NEUTP', '770-8', '%'],
    ['LYMPP', '736-9', '%'],
    ['PT', '5902-2', 's'],
    ['INR', '6301-6', null],
    ['APTT', '3173-2', 's'],
  ])('NWH-LAB %s is LOINC %s in %s', (code, loinc, unit) => {
    const entry = terminology.mapLabCode('NWH-LAB', code, 'L');
    expect(entry.loincCode).toBe(loinc);
    expect(entry.ucumUnit).toBe(unit);
    if (entry.valueType === 'NM') expect(entry.refLow ?? entry.refHigh).not.toBeNull();
  });

  it.each([
    ['BMP', '51990-0'],
    ['CMP', '24323-8'],
    ['CBC', '58410-2'],
    ['LIPID', '24331-1'],
    ['TSH', '3016-3'],
    ['HBA1C', '4548-4'],
    ['PTINR', '34528-0'],
    ['UA', '24357-6'],
  ])('NWH-LAB orderable %s is LOINC %s', (code, loinc) => {
    expect(terminology.mapOrderable('NWH-LAB', code, 'L').loincCode).toBe(loinc);
  });

  it('maps the same tests from EAST-LAB under its own codes and units', () => {
    expect(terminology.mapLabCode('EAST-LAB', '1002', '99EAST').loincCode).toBe('2823-3');
    expect(terminology.mapLabCode('EAST-LAB', '2001', '99EAST')).toMatchObject({
      loincCode: '6690-2',
      localUnit: 'x10E3/uL',
      ucumUnit: '10*3/uL',
    });
    expect(terminology.mapOrderable('EAST-LAB', 'B100').components).toHaveLength(8);
  });

  it('gives every numeric lab code a reference range and decimals (simulators need both)', () => {
    for (const facility of terminology.facilities()) {
      for (const code of terminology.labCodes(facility.facility)) {
        if (code.valueType !== 'NM') continue;
        expect([code.localCode, code.refLow ?? code.refHigh, code.decimals]).not.toContain(null);
      }
    }
  });
});

describe('loadTerminology', () => {
  it('hashes the content: same files, same hash; one byte changed, another hash', () => {
    const { dir, cleanup } = copyOfShippedDir();
    try {
      const shipped = loadTerminology();
      expect(loadTerminology(dir).contentHash).toBe(shipped.contentHash);
      writeFileSync(join(dir, 'units.csv'), withRows(shippedFiles()['units.csv'], 'mEq/L,meq/L,'));
      expect(loadTerminology(dir).contentHash).not.toBe(shipped.contentHash);
    } finally {
      cleanup();
    }
  });

  it('names every missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'terminology-empty-'));
    try {
      writeFileSync(join(dir, 'manifest.json'), '{"version":"1"}');
      expect(() => loadTerminology(dir)).toThrow(TerminologyLoadError);
      expect(() => loadTerminology(dir)).toThrow(/facilities\.csv: the file is missing/);
      expect(() => loadTerminology(dir)).toThrow(/critical-ranges\.csv: the file is missing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says which file, line and column is wrong in its message', () => {
    const files = shippedFiles();
    files['lab-codes.csv'] = files['lab-codes.csv'].replace(',2345-7,', ',2345-8,');
    const line =
      shippedFiles()
        ['lab-codes.csv'].split('\n')
        .findIndex((l) => l.includes(',GLU,')) + 1;
    expect(() => parseTerminology(files, '/tables')).toThrow(
      `Invalid terminology in /tables (1 problem):\n  - lab-codes.csv line ${line}, column loinc_code: "2345-8" has a wrong LOINC check digit (mistyped code?)`,
    );
  });
});

describe('parseTerminology validation', () => {
  const files = shippedFiles();
  const labHeader = files['lab-codes.csv'].split('\n')[0] ?? '';
  const lineCount = (csv: string): number => csv.trimEnd().split('\n').length;

  it('accepts the shipped files', () => {
    expect(parseTerminology(files).version).toBe(loadTerminology().version);
  });

  it('refuses a duplicate lab code of a facility, naming the first line', () => {
    const csv = withRows(
      files['lab-codes.csv'],
      'NWH-LAB,K,L,Potassium again,2823-3,Potassium,NM,mmol/L,mmol/L,3.5,5.1,1',
    );
    const first = csv.split('\n').findIndex((l) => l.startsWith('NWH-LAB,K,')) + 1;
    expect(issuesOf({ ...files, 'lab-codes.csv': csv })).toEqual([
      {
        file: 'lab-codes.csv',
        line: lineCount(csv),
        column: 'local_code',
        reason: `duplicate code K for NWH-LAB: already defined on line ${first}`,
      },
    ]);
  });

  it('allows the same local code at two facilities', () => {
    const csv = withRows(
      files['lab-codes.csv'],
      'EAST-LAB,K,99EAST,K,2823-3,Potassium,NM,mmol/L,mmol/L,3.5,5.1,1',
    );
    expect(
      parseTerminology({ ...files, 'lab-codes.csv': csv }).mapLabCode('EAST-LAB', 'K').loincCode,
    ).toBe('2823-3');
  });

  it('checks every cell of a lab code row and reports all problems of the row', () => {
    const csv = `${labHeader}\nNOWHERE,A B,L,,2345,,XX,mg/dL,mg/dL,10,5,1.5\n`;
    const issues = issuesOf({
      ...files,
      'lab-codes.csv': csv,
      'orderables.csv': `${files['orderables.csv'].split('\n')[0] ?? ''}\n`,
    });
    expect(issues.map((i) => [i.line, i.column, i.reason])).toEqual([
      [2, 'facility', '"NOWHERE" is not in facilities.csv'],
      [2, 'local_code', '"A B" contains a space or an HL7 delimiter (| ^ ~ \\ &)'],
      [2, 'local_display', 'is empty; a value is required'],
      [2, 'loinc_code', '"2345" is not a LOINC code (digits, a hyphen, a check digit: 2345-7)'],
      [2, 'loinc_display', 'is empty; a value is required'],
      [2, 'value_type', '"XX" must be one of NM, SN, CE, CWE, ST, TX, FT'],
      [2, 'ref_high', '5 must be greater than ref_low 10'],
      [2, 'decimals', '1.5 must be a whole number from 0 to 6'],
    ]);
  });

  it('checks that the local unit maps to the ucum_unit through units.csv', () => {
    const csv =
      `${labHeader}\n` +
      'NWH-LAB,A,L,A,2345-7,Glucose,NM,mg/dL,mmol/L,1,2,0\n' +
      'NWH-LAB,B,L,B,2345-7,Glucose,NM,furlongs,,1,2,0\n' +
      'NWH-LAB,C,L,C,2345-7,Glucose,NM,,mg/dL,1,2,0\n' +
      'NWH-LAB,D,L,D,2345-7,Glucose,NM,mg/dL,mg dL,abc,2,0\n';
    const issues = issuesOf({
      ...files,
      'lab-codes.csv': csv,
      'orderables.csv': `${files['orderables.csv'].split('\n')[0] ?? ''}\n`,
    });
    expect(issues.map((i) => [i.line, i.column, i.reason])).toEqual([
      [2, 'ucum_unit', 'units.csv maps "mg/dL" to mg/dL, not mmol/L'],
      [3, 'local_unit', '"furlongs" is not in units.csv; add it there first'],
      [4, 'local_unit', 'is blank but ucum_unit is mg/dL; give the unit the facility sends'],
      [5, 'ucum_unit', '"mg dL" is not a UCUM code (printable ASCII, no spaces, e.g. mg/dL)'],
      [5, 'ucum_unit', 'units.csv maps "mg/dL" to mg/dL, not mg dL'],
      [5, 'ref_low', '"abc" is not a number (use a dot for decimals: 3.5)'],
    ]);
  });

  it('checks that panel components are lab codes of the same facility', () => {
    const csv = withRows(
      files['orderables.csv'],
      'EAST-LAB,X1,99EAST,X,51990-0,Basic metabolic panel - Blood,SER,1001 NA 1001',
    );
    expect(issuesOf({ ...files, 'orderables.csv': csv })).toEqual([
      {
        file: 'orderables.csv',
        line: lineCount(csv),
        column: 'components',
        reason: 'NA not in lab-codes.csv for EAST-LAB',
      },
      {
        file: 'orderables.csv',
        line: lineCount(csv),
        column: 'components',
        reason: '1001 listed twice',
      },
    ]);
  });

  it('refuses duplicate units and flags (flags case-insensitively)', () => {
    const units = withRows(files['units.csv'], 'mg/dL,mg/dL,again');
    const flags = withRows(files['flags.csv'], 'h,H,High,N,lower-case duplicate');
    const issues = issuesOf({ ...files, 'units.csv': units, 'flags.csv': flags });
    expect(issues.map(formatIssue)).toEqual([
      `units.csv line ${lineCount(units)}, column local_unit: duplicate unit "mg/dL": already defined on line 6`,
      `flags.csv line ${lineCount(flags)}, column flag: duplicate flag h: already defined on line 3`,
    ]);
  });

  it('refuses two flags with one interpretation code but different criticality', () => {
    const flags = withRows(files['flags.csv'], 'PANIC,HH,Critical high,N,');
    expect(issuesOf({ ...files, 'flags.csv': flags }).map(formatIssue)).toEqual([
      `flags.csv line ${lineCount(flags)}, column critical: interpretation HH is critical=Y on line 5; a code must be critical for every flag or for none`,
    ]);
  });

  it('checks the critical flag is Y or N', () => {
    const flags = withRows(files['flags.csv'], 'ZZ,A,Abnormal,yes,');
    expect(issuesOf({ ...files, 'flags.csv': flags }).map(formatIssue)).toEqual([
      `flags.csv line ${lineCount(flags)}, column critical: "yes" must be Y or N`,
    ]);
  });

  it('checks critical ranges: a bound is needed, low below high, one row per LOINC and unit', () => {
    const csv = withRows(
      files['critical-ranges.csv'],
      '2160-0,mg/dL,,,Creatinine',
      '2160-0,umol/L,9,3,Creatinine',
      '2823-3,mmol/L,2.5,6.5,Potassium again',
    );
    const n = lineCount(csv);
    expect(issuesOf({ ...files, 'critical-ranges.csv': csv }).map(formatIssue)).toEqual([
      `critical-ranges.csv line ${n - 2}: critical_low and critical_high are both blank; give at least one`,
      `critical-ranges.csv line ${n - 1}, column critical_high: 3 must be greater than critical_low 9`,
      `critical-ranges.csv line ${n}, column ucum_unit: duplicate critical range for 2823-3 in mmol/L: already defined on line 2`,
    ]);
  });

  it('checks that numeric lab codes report in a unit their critical ranges use', () => {
    const csv = withRows(
      files['lab-codes.csv'],
      'EAST-LAB,1009,99EAST,GLUCOSE SI,2345-7,Glucose,NM,mmol/L,mmol/L,3.9,5.5,1',
    );
    expect(issuesOf({ ...files, 'lab-codes.csv': csv }).map(formatIssue)).toEqual([
      `lab-codes.csv line ${lineCount(csv)}, column ucum_unit: mmol/L has no critical range for LOINC 2345-7, which critical-ranges.csv defines in mg/dL; add a range in this unit`,
    ]);
  });

  it('checks facilities: unique ids and an absolute URI for local codes', () => {
    const csv = withRows(
      files['facilities.csv'],
      'NWH-LAB,Again,SIMLIS,http://x.example/cs',
      'WEST-LAB,West,WL,not a uri',
    );
    const n = lineCount(csv);
    expect(issuesOf({ ...files, 'facilities.csv': csv }).map(formatIssue)).toEqual([
      `facilities.csv line ${n - 1}, column facility: duplicate facility NWH-LAB: already defined on line 2`,
      `facilities.csv line ${n}, column local_system_uri: "not a uri" must be an absolute URI (http(s):// or urn:)`,
    ]);
  });

  it.each([
    ['not json', /manifest\.json: is not valid JSON/],
    ['[]', /manifest\.json: must be a JSON object with "version" and "description"/],
    ['{"description":"x"}', /manifest\.json, column version: must be a non-empty string/],
    ['{"version":"1 0"}', /manifest\.json, column version: must be a non-empty string/],
    ['{"version":"1","owner":"lab"}', /manifest\.json, column owner: unknown key/],
    ['{"version":"1","description":3}', /manifest\.json, column description: must be a string/],
  ])('checks manifest.json %s', (manifest, message) => {
    expect(() => parseTerminology({ ...files, 'manifest.json': manifest })).toThrow(message);
  });

  it('refuses a file that is not UTF-8, naming the line', () => {
    const latin1 = Buffer.concat([
      Buffer.from(withRows(files['units.csv'], 'g/dl,g/dL,ok'), 'utf8'),
      Buffer.from('\xb5g/L,ug/L,micro\n', 'latin1'),
    ]);
    expect(issuesOf({ ...files, 'units.csv': latin1 })).toEqual([
      {
        file: 'units.csv',
        line: lineCount(files['units.csv']) + 2,
        reason:
          'is not valid UTF-8 (save the file as "CSV UTF-8"); Latin-1 or Windows-1252 bytes found',
      },
    ]);
  });

  it('lists every problem across files in one error', () => {
    const error = (() => {
      try {
        parseTerminology({
          ...files,
          'units.csv': withRows(files['units.csv'], 'x,,'),
          'flags.csv': withRows(files['flags.csv'], 'Q,,Q,N,'),
        });
      } catch (e) {
        return e as TerminologyLoadError;
      }
      throw new Error('expected an error');
    })();
    expect(error.issues.map((i) => i.file)).toEqual(['units.csv', 'flags.csv']);
    expect(error.message).toContain('(2 problems)');
  });
});
