import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { TerminologyLoadError, formatIssue, type TerminologyIssue } from './terminology.errors';
import { loadTerminology, parseTerminology, type TerminologyFiles } from './terminology.loader';
import { copyOfShippedDir, shippedFiles, withRows } from './test/terminology-files';

/** Parses files expected to be invalid and returns the issues, rendered. */
function problems(files: TerminologyFiles): string[] {
  try {
    parseTerminology(files, 'test');
  } catch (error) {
    if (error instanceof TerminologyLoadError) return error.issues.map(formatIssue);
    throw error;
  }
  throw new Error('expected the terminology to be refused');
}

function issuesOf(files: TerminologyFiles): readonly TerminologyIssue[] {
  try {
    parseTerminology(files, 'test');
  } catch (error) {
    if (error instanceof TerminologyLoadError) return error.issues;
    throw error;
  }
  throw new Error('expected the terminology to be refused');
}

describe('order tables validation', () => {
  const files = shippedFiles();
  const header = (name: keyof typeof files): string => files[name].split('\n')[0] ?? '';
  const lineCount = (csv: string): number => csv.trimEnd().split('\n').length;

  it('refuses a directory of an older version that lacks the order tables', () => {
    const { dir, cleanup } = copyOfShippedDir();
    try {
      rmSync(join(dir, 'order-routes.csv'));
      rmSync(join(dir, 'formulary.csv'));
      expect(() => loadTerminology(dir)).toThrow(/order-routes\.csv: the file is missing/);
      expect(() => loadTerminology(dir)).toThrow(/formulary\.csv: the file is missing/);
    } finally {
      cleanup();
    }
  });

  describe('order-routes.csv', () => {
    it('checks every cell of a route', () => {
      const csv = [
        header('order-routes.csv'),
        'LAB,http://loinc.org,*,lis-main,NWH-LAB,bad category',
        'IMAGING,CPT,*,ris-main,NWH-RAD,system not a URI',
        'IMAGING,*,71046,ris-main,NWH-RAD,code without system',
        'IMAGING,http://www.ama-assn.org/go/cpt,7104,ris main,NWH-RAD,bad CPT and destination',
        'LABORATORY,http://loinc.org,2345-8,lis-main,WEST-LAB,bad LOINC and facility',
        'PHARMACY,http://www.nlm.nih.gov/research/umls/rxnorm,A12,pharmacy-main,NWH-RX,bad RxNorm',
        '',
      ].join('\n');
      expect(problems({ ...files, 'order-routes.csv': csv })).toEqual([
        'order-routes.csv line 2, column category: "LAB" must be one of LABORATORY, IMAGING, PHARMACY',
        'order-routes.csv line 3, column code_system: "CPT" must be a FHIR code system URI (e.g. http://loinc.org) or * for any',
        'order-routes.csv line 4, column code: "71046" needs a code_system; with code_system * the code must be * too',
        'order-routes.csv line 5, column code: "7104" is not a CPT code (5 characters: 4 digits and a digit or letter)',
        `order-routes.csv line 5, column destination: "ris main" must be a gateway's ORDER_DESTINATION: letters, digits, . _ - (e.g. lis-main)`,
        'order-routes.csv line 6, column code: "2345-8" is not a valid LOINC code (form 2345-7, right check digit)',
        'order-routes.csv line 6, column facility: "WEST-LAB" is not in facilities.csv; add the facility there first',
        'order-routes.csv line 7, column code: "A12" is not an RxNorm concept id (digits only)',
      ]);
    });

    it('refuses two routes for the same category, system and code', () => {
      const csv = withRows(
        files['order-routes.csv'],
        'IMAGING,http://www.ama-assn.org/go/cpt,*,ris-east,NWH-RAD,again',
      );
      expect(problems({ ...files, 'order-routes.csv': csv })).toEqual([
        `order-routes.csv line ${lineCount(csv)}, column code: duplicate route for IMAGING http://www.ama-assn.org/go/cpt *: already defined on line 3`,
      ]);
    });
  });

  describe('order-rules.csv', () => {
    it('checks priority, lane and the Y/N flag', () => {
      const csv = withRows(files['order-rules.csv'], 'whenever,FAST,maybe,');
      const n = lineCount(csv);
      expect(problems({ ...files, 'order-rules.csv': csv })).toEqual([
        `order-rules.csv line ${n}, column priority: "whenever" must be one of routine, urgent, asap, stat`,
        `order-rules.csv line ${n}, column lane: "FAST" must be one of ROUTINE, STAT`,
        `order-rules.csv line ${n}, column high_priority_result: "maybe" must be Y or N`,
      ]);
    });

    it('requires a row for every priority, once', () => {
      const csv = [
        header('order-rules.csv'),
        'routine,ROUTINE,N,',
        'stat,STAT,Y,',
        'STAT,STAT,Y,again in capitals',
        '',
      ].join('\n');
      expect(issuesOf({ ...files, 'order-rules.csv': csv })).toEqual([
        {
          file: 'order-rules.csv',
          line: 4,
          column: 'priority',
          reason: 'duplicate rule for priority stat: already defined on line 3',
        },
        {
          file: 'order-rules.csv',
          column: 'priority',
          reason:
            'no row for priority urgent, asap; every FHIR request priority (routine, urgent, asap, stat) needs one',
        },
      ]);
    });
  });

  describe('imaging-procedures.csv', () => {
    it('checks every cell of a procedure', () => {
      const csv = withRows(
        files['imaging-procedures.csv'],
        'WEST-RAD,CT HEAD,L,,7045,,PET,26 LEFT',
        'NWH-RAD,CTHDWO,L,Again,70450,CT head,CT,',
      );
      const n = lineCount(csv);
      expect(problems({ ...files, 'imaging-procedures.csv': csv })).toEqual([
        `imaging-procedures.csv line ${n - 1}, column facility: "WEST-RAD" is not in facilities.csv; add the facility there first`,
        `imaging-procedures.csv line ${n - 1}, column local_code: "CT HEAD" contains a space or an HL7 delimiter (| ^ ~ \\ &)`,
        `imaging-procedures.csv line ${n - 1}, column local_display: is empty; a value is required`,
        `imaging-procedures.csv line ${n - 1}, column cpt_code: "7045" is not a CPT code (5 characters: 4 digits and a digit or letter, e.g. 71046)`,
        `imaging-procedures.csv line ${n - 1}, column cpt_display: is empty; a value is required`,
        `imaging-procedures.csv line ${n - 1}, column modality: "PET" must be one of CR, DX, CT, MR, US, MG, NM, PT, XA, RF, BMD`,
        `imaging-procedures.csv line ${n - 1}, column default_modifiers: "LEFT" not CPT modifiers (two characters, e.g. 26 TC 50; separate with spaces)`,
        `imaging-procedures.csv line ${n}, column local_code: duplicate imaging procedure CTHDWO for NWH-RAD: already defined on line 3`,
      ]);
    });
  });

  describe('formulary.csv', () => {
    it('checks every cell of a drug', () => {
      const csv = withRows(
        files['formulary.csv'],
        'NWH-RX,X^1,,RX123,,1234567890,,,',
        'NOWHERE,X2,X2,123,x,99901-0199-1,x,TAB,Oral Tablet',
      );
      const n = lineCount(csv);
      expect(problems({ ...files, 'formulary.csv': csv })).toEqual([
        `formulary.csv line ${n - 1}, column local_code: "X^1" contains a space or an HL7 delimiter (| ^ ~ \\ &)`,
        `formulary.csv line ${n - 1}, column local_display: is empty; a value is required`,
        `formulary.csv line ${n - 1}, column rxnorm_code: "RX123" is not an RxNorm concept id (digits only, e.g. 197361)`,
        `formulary.csv line ${n - 1}, column rxnorm_display: is empty; a value is required`,
        `formulary.csv line ${n - 1}, column ndc: "1234567890" is not an NDC (11 digits as 5-4-2 with hyphens, e.g. 12345-6789-01; or a hyphenated 10-digit form)`,
        `formulary.csv line ${n - 1}, column ndc_display: is empty; a value is required`,
        `formulary.csv line ${n - 1}, column dispense_unit: is empty; a value is required`,
        `formulary.csv line ${n - 1}, column dose_form: is empty; a value is required`,
        `formulary.csv line ${n}, column facility: "NOWHERE" is not in facilities.csv; add the facility there first`,
      ]);
    });

    it('refuses a duplicate local code, and an NDC twice in any of its forms', () => {
      const csv = withRows(
        files['formulary.csv'],
        'NWH-RX,AMLO5,Again,197361,amlodipine 5 MG Oral Tablet,99901-0199-01,x,TAB,Oral Tablet',
        'NWH-RX,AMLO5X,Again,197361,amlodipine 5 MG Oral Tablet,99901010130,x,TAB,Oral Tablet',
      );
      const n = lineCount(csv);
      expect(problems({ ...files, 'formulary.csv': csv })).toEqual([
        `formulary.csv line ${n - 1}, column local_code: duplicate formulary code AMLO5 for NWH-RX: already defined on line 2`,
        `formulary.csv line ${n}, column ndc: duplicate NDC 99901-0101-30 for NWH-RX: already defined on line 2`,
      ]);
    });

    it('stores NDCs normalised to 5-4-2', () => {
      const csv = withRows(
        files['formulary.csv'],
        'NWH-RX,NEW1,New,197361,amlodipine 5 MG Oral Tablet,99901-199-01,x,TAB,Oral Tablet',
      );
      const t = parseTerminology({ ...files, 'formulary.csv': csv });
      expect(t.formulary('NWH-RX').at(-1)?.ndc).toBe('99901-0199-01');
    });
  });

  it('checks references to facilities only when facilities.csv could be read', () => {
    // One problem, reported once: the broken header, not again on every row that names a facility.
    const issues = issuesOf({ ...files, 'facilities.csv': 'id,name\nNWH-LAB,x\n' });
    expect(issues.every((i) => i.file === 'facilities.csv')).toBe(true);
  });
});
