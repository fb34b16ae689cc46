import {
  DEFAULT_TERMINOLOGY_DIR,
  readCsv,
  TERMINOLOGY_FILES,
  type TerminologyFileName,
  type TerminologyIssue,
} from '@ancillary/terminology';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChargeMasterLoadError,
  DEFAULT_CHARGE_MASTER_DIR,
  NoChargeDefinedError,
  loadChargeMaster,
  parseChargeMaster,
  serviceDay,
  type ChargeTrigger,
} from './charge-master';
import { ChargeMasterStore, type ChargeMasterReloadOutcome } from './charge-master.store';

const HEADER =
  'charge_code,description,cpt_hcpcs,modifiers,revenue_code,department,unit_price,quantity_multiplier,effective_from,effective_to,trigger_kind,trigger_system,trigger_code';
const MANIFEST = '{"version":"test-1"}';
const BMP =
  '30000101,Basic metabolic panel,80048,,0301,LAB-CHEM,42.00,1,2026-01-01,,lab,LOINC,51990-0';

function parse(...rows: string[]) {
  return parseChargeMaster([HEADER, ...rows].join('\n'), MANIFEST);
}

/**
 * Every row of a terminology table, read straight from the CSV (every facility, file order),
 * with the columns the terminology loader itself requires.
 */
function terminologyRows(file: TerminologyFileName): Map<string, string>[] {
  const issues: TerminologyIssue[] = [];
  const text = readFileSync(join(DEFAULT_TERMINOLOGY_DIR, file), 'utf8');
  const rows = readCsv(file, text, TERMINOLOGY_FILES[file], issues);
  if (!rows || issues.length > 0) throw new Error(`${file}: ${JSON.stringify(issues)}`);
  return rows.map((r) => new Map(r.values));
}

function issuesOf(...rows: string[]): string[] {
  try {
    parse(...rows);
  } catch (error) {
    if (error instanceof ChargeMasterLoadError) {
      return error.issues.map((i) => `${i.line ?? ''} ${i.column ?? ''}: ${i.reason}`);
    }
    throw error;
  }
  return [];
}

describe('the starter charge master', () => {
  const cdm = loadChargeMaster();

  it('loads, with a version and a content hash', () => {
    expect(cdm.version).toBe('2026.12.0');
    expect(cdm.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(cdm.entries().length).toBeGreaterThan(30);
  });

  // Every row of the terminology tables the simulators complete from (every facility), read from
  // the CSVs themselves: a new orderable, study or drug without a charge fails here, not in the
  // dead-letter topic of a demo.
  it('prices every orderable, imaging procedure and formulary drug in the terminology data', () => {
    const orderables = terminologyRows('orderables.csv');
    const procedures = terminologyRows('imaging-procedures.csv');
    const drugs = terminologyRows('formulary.csv');
    expect(orderables.filter((o) => o.get('facility') === 'NWH-LAB').length).toBeGreaterThan(10);
    expect(procedures.length).toBeGreaterThan(5);
    expect(drugs.length).toBeGreaterThan(5);
    const triggers: (ChargeTrigger & { from: string })[] = [
      ...orderables.map((o) => ({
        from: `orderables.csv ${o.get('facility')} ${o.get('local_code')}`,
        kind: 'lab' as const,
        system: 'LOINC' as const,
        code: o.get('loinc_code') ?? '',
      })),
      ...procedures.map((p) => ({
        from: `imaging-procedures.csv ${p.get('facility')} ${p.get('local_code')}`,
        kind: 'imaging' as const,
        system: 'CPT' as const,
        code: p.get('cpt_code') ?? '',
      })),
      ...drugs.map((d) => ({
        from: `formulary.csv ${d.get('facility')} ${d.get('local_code')}`,
        kind: 'pharmacy' as const,
        system: 'NDC' as const,
        code: d.get('ndc') ?? '',
      })),
    ];
    const missing: string[] = [];
    // The first day of the starter set, the day of the price change and a day far ahead.
    for (const day of ['2026-01-01', '2027-01-01', '2030-06-30']) {
      for (const { from, ...trigger } of triggers) {
        try {
          cdm.chargeFor(trigger, day);
        } catch (error) {
          missing.push(`${from}: ${(error as Error).message}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('keeps every imaging CPT and modifier of the terminology on its charge', () => {
    const procedures = terminologyRows('imaging-procedures.csv');
    for (const p of procedures) {
      const row = cdm.chargeFor(
        { kind: 'imaging', system: 'CPT', code: p.get('cpt_code') ?? '' },
        '2026-12-04',
      );
      expect(row.cptHcpcs).toBe(p.get('cpt_code'));
      for (const modifier of (p.get('default_modifiers') ?? '').split(/\s+/).filter(Boolean)) {
        expect(row.modifiers).toContain(modifier);
      }
    }
  });

  it('gives imaging its CPT with modifiers and injectables their HCPCS billing units', () => {
    const ct = cdm.chargeFor({ kind: 'imaging', system: 'CPT', code: '70450' }, '2026-12-04');
    expect(ct).toMatchObject({ cptHcpcs: '70450', modifiers: ['TC'], revenueCode: '0351' });
    const ceftriaxone = cdm.chargeFor(
      { kind: 'pharmacy', system: 'NDC', code: '99902020110' }, // 11 digits without hyphens: normalised
      '2026-12-04',
    );
    expect(ceftriaxone).toMatchObject({
      cptHcpcs: 'J0696',
      quantityMultiplier: 4,
      revenueCode: '0636',
    });
  });
});

describe('effective dating', () => {
  const cdm = loadChargeMaster();
  const cbc = { kind: 'lab', system: 'LOINC', code: '58410-2' } as const;

  it('uses the price of the day of service, boundaries included', () => {
    expect(() => cdm.chargeFor(cbc, '2025-12-31')).toThrow(NoChargeDefinedError); // before any
    expect(cdm.chargeFor(cbc, '2026-01-01').unitPriceCents).toBe(2800); // first day
    expect(cdm.chargeFor(cbc, '2026-12-31').unitPriceCents).toBe(2800); // day before the change
    expect(cdm.chargeFor(cbc, '2027-01-01').unitPriceCents).toBe(2950); // day of the change
    expect(cdm.chargeFor(cbc, '2027-01-02').unitPriceCents).toBe(2950); // day after
    expect(cdm.chargeFor(cbc, '2031-06-30').unitPriceCents).toBe(2950); // open-ended
    // the two periods are two rows of one charge code
    expect(cdm.chargeFor(cbc, '2026-12-31').chargeCode).toBe(
      cdm.chargeFor(cbc, '2027-01-01').chargeCode,
    );
  });

  it('reads an instant as the calendar day in the hospital time zone', () => {
    // 2027-01-01T02:00Z is still 31 December in New York
    expect(serviceDay('2027-01-01T02:00:00Z', 'America/New_York')).toBe('2026-12-31');
    expect(
      cdm.chargeFor(cbc, new Date('2027-01-01T02:00:00Z'), 'America/New_York').unitPriceCents,
    ).toBe(2800);
    expect(cdm.chargeFor(cbc, new Date('2027-01-01T02:00:00Z')).unitPriceCents).toBe(2950);
  });

  it('ends a closed period on its last day, inclusive', () => {
    const closed = parse(BMP.replace('2026-01-01,', '2026-01-01,2026-06-30'));
    const bmp = { kind: 'lab', system: 'LOINC', code: '51990-0' } as const;
    expect(closed.chargeFor(bmp, '2026-06-30').unitPriceCents).toBe(4200);
    expect(() => closed.chargeFor(bmp, '2026-07-01')).toThrow(
      'no charge defined for lab LOINC 51990-0 on 2026-07-01',
    );
  });

  it('refuses a date of service that is no date', () => {
    expect(() => serviceDay('2026-02-30')).toThrow(RangeError);
    expect(() => serviceDay('yesterday')).toThrow(RangeError);
    expect(() => cdm.chargeFor(cbc, new Date('nope'))).toThrow(RangeError);
  });

  it('finds a charge code by code and day', () => {
    expect(cdm.byChargeCode('30000201', '2027-02-01')?.unitPriceCents).toBe(2950);
    expect(cdm.byChargeCode('30000201', '2020-01-01')).toBeUndefined();
  });
});

describe('lookups', () => {
  const cdm = parse(
    BMP,
    '30000109,Basic metabolic panel (local code),80048,,0301,LAB-CHEM,42.00,1,2026-01-01,,lab,LOCAL,BMPX',
    '50000101,Amlodipine 5 mg tablet,,,0250,PHARM,0.45,1,2026-01-01,,pharmacy,RXNORM,197361',
  );

  it('tries the triggers in order: the LOINC, then the local code', () => {
    const found = cdm.chargeForAny(
      [
        { kind: 'lab', system: 'LOINC', code: '99999-9' },
        { kind: 'lab', system: 'LOCAL', code: 'bmpx' },
      ],
      '2026-06-01',
    );
    expect(found.chargeCode).toBe('30000109');
  });

  it('finds a lab charge by LOINC, case-insensitively by local code', () => {
    expect(
      cdm.chargeFor({ kind: 'lab', system: 'LOINC', code: '51990-0' }, '2026-06-01'),
    ).toMatchObject({
      chargeCode: '30000101',
      cptHcpcs: '80048',
      revenueCode: '0301',
      department: 'LAB-CHEM',
    });
    expect(
      cdm.chargeFor({ kind: 'lab', system: 'LOCAL', code: 'bmpx' }, '2026-06-01').chargeCode,
    ).toBe('30000109');
  });

  it('keeps kinds apart: a lab LOINC does not price an imaging trigger', () => {
    expect(() =>
      cdm.chargeFor({ kind: 'imaging', system: 'LOINC', code: '51990-0' }, '2026-06-01'),
    ).toThrow(NoChargeDefinedError);
  });

  it('finds a drug by any NDC form, normalised to 5-4-2', () => {
    const cdm2 = parse(
      '50000201,Ceftriaxone 1 g vial,J0696,,0636,PHARM-INJ,6.25,4,2026-01-01,,pharmacy,NDC,9990-0201-10',
    );
    const [row] = cdm2.entries();
    expect(row?.trigger.code).toBe('09990-0201-10'); // 4-4-2 in the file, stored 5-4-2
    for (const code of ['09990-0201-10', '09990020110', '9990-0201-10']) {
      expect(
        cdm2.chargeFor({ kind: 'pharmacy', system: 'NDC', code }, '2026-06-01').chargeCode,
      ).toBe('50000201');
    }
  });

  it('prices a dispense by its NDC, falling back to its RxNorm', () => {
    const byNdc = parse(
      '50000102,Lisinopril 10 mg tablet,,,0250,PHARM,0.40,1,2026-01-01,,pharmacy,NDC,99901-0102-30',
      '50000101,Amlodipine 5 mg tablet,,,0250,PHARM,0.45,1,2026-01-01,,pharmacy,RXNORM,197361',
    );
    const dispense = (ndc: string, rxnorm: string) =>
      byNdc.chargeForAny(
        [
          { kind: 'pharmacy', system: 'NDC', code: ndc },
          { kind: 'pharmacy', system: 'RXNORM', code: rxnorm },
        ],
        '2026-06-01',
      ).chargeCode;
    expect(dispense('99901-0102-30', '314076')).toBe('50000102'); // the NDC row
    expect(dispense('99999-0001-01', '197361')).toBe('50000101'); // another labeler: RxNorm row
    expect(() => dispense('99999-0001-01', '1')).toThrow(
      'no charge defined for pharmacy NDC 99999-0001-01 on 2026-06-01',
    );
  });

  it('finds a drug by RxNorm when the row is keyed so', () => {
    const row = cdm.chargeFor({ kind: 'pharmacy', system: 'RXNORM', code: '197361' }, '2026-06-01');
    expect(row.unitPriceCents).toBe(45);
    expect(row.cptHcpcs).toBeNull();
  });

  it('says plainly what has no charge, for the dead-letter reason', () => {
    const error = (() => {
      try {
        cdm.chargeFor({ kind: 'imaging', system: 'CPT', code: '99999' }, '2026-06-01');
      } catch (e) {
        return e as NoChargeDefinedError;
      }
      throw new Error('expected NoChargeDefinedError');
    })();
    expect(error).toBeInstanceOf(NoChargeDefinedError);
    expect(error.retriable).toBe(false);
    expect(error.code).toBe('NO_CHARGE_DEFINED');
    expect(error.message).toBe(
      'no charge defined for imaging CPT 99999 on 2026-06-01 (charge master test-1)',
    );
    expect(error).toMatchObject({
      trigger: { kind: 'imaging', system: 'CPT', code: '99999' },
      dateOfService: '2026-06-01',
      chargeMasterVersion: 'test-1',
    });
  });

  it('names the day of service, not the instant, in the message', () => {
    expect(() =>
      cdm.chargeFor(
        { kind: 'pharmacy', system: 'NDC', code: '99901-0999-30' },
        new Date('2026-06-01T23:30:00-04:00'),
        'America/New_York',
      ),
    ).toThrow(/^no charge defined for pharmacy NDC 99901-0999-30 on 2026-06-01 /);
  });
});

describe('validation', () => {
  it.each([
    ['x y,Bad code,80048,,0301,LAB,1.00,1,2026-01-01,,lab,LOINC,51990-0', 'charge_code'],
    [
      '1,No description,80048,,0301,LAB,1.00,1,2026-01-01,,lab,LOINC,51990-0'.replace(
        'No description',
        '',
      ),
      'description',
    ],
    ['1,Bad CPT,8004,,0301,LAB,1.00,1,2026-01-01,,lab,LOINC,51990-0', 'cpt_hcpcs'],
    ['1,Bad modifier,80048,TCX,0301,LAB,1.00,1,2026-01-01,,lab,LOINC,51990-0', 'modifiers'],
    ['1,Bad revenue code,80048,,301,LAB,1.00,1,2026-01-01,,lab,LOINC,51990-0', 'revenue_code'],
    ['1,Negative price,80048,,0301,LAB,-1.00,1,2026-01-01,,lab,LOINC,51990-0', 'unit_price'],
    ['1,Three decimals,80048,,0301,LAB,1.005,1,2026-01-01,,lab,LOINC,51990-0', 'unit_price'],
    [
      '1,Zero multiplier,80048,,0301,LAB,1.00,0,2026-01-01,,lab,LOINC,51990-0',
      'quantity_multiplier',
    ],
    ['1,Bad from,80048,,0301,LAB,1.00,1,2026-13-01,,lab,LOINC,51990-0', 'effective_from'],
    ['1,Backwards,80048,,0301,LAB,1.00,1,2026-02-01,2026-01-01,lab,LOINC,51990-0', 'effective_to'],
    ['1,Not a day,80048,,0301,LAB,1.00,1,2026-02-30,,lab,LOINC,51990-0', 'effective_from'],
    ['1,Bad to,80048,,0301,LAB,1.00,1,2026-01-01,2026-1-31,lab,LOINC,51990-0', 'effective_to'],
    ['1,Bad kind,80048,,0301,LAB,1.00,1,2026-01-01,,surgery,CPT,71046', 'trigger_kind'],
    ['1,Unknown system,80048,,0301,LAB,1.00,1,2026-01-01,,lab,SNOMED,271649006', 'trigger_system'],
    [
      '1,Kind and system disagree,80048,,0301,LAB,1.00,1,2026-01-01,,lab,NDC,99901-0101-30',
      'trigger_system',
    ],
    ['1,Bad NDC,,,0250,RX,1.00,1,2026-01-01,,pharmacy,NDC,123', 'trigger_code'],
    ['1,LOINC check digit,80048,,0301,LAB,1.00,1,2026-01-01,,lab,LOINC,51990-1', 'trigger_code'],
    ['1,Bad CPT trigger,,,0320,RAD,1.00,1,2026-01-01,,imaging,CPT,7104', 'trigger_code'],
    ['1,Bad RxNorm,,,0250,RX,1.00,1,2026-01-01,,pharmacy,RXNORM,RX197361', 'trigger_code'],
    ['1,No trigger,80048,,0301,LAB,1.00,1,2026-01-01,,lab,LOCAL,', 'trigger_code'],
  ])('refuses %s (column %s), naming line and column', (row, column) => {
    // each row has exactly one problem, so a check that fires on the wrong column fails here
    const issues = issuesOf(row);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(new RegExp(`^2 ${column}: `));
  });

  it('names file, line and column in the error message', () => {
    expect(() =>
      parse(
        BMP,
        '1,Bad revenue code,80048,,0301,LAB,1.00,1,2026-01-01,,lab,LOINC,51990-0'.replace(
          '0301',
          '301',
        ),
      ),
    ).toThrow(
      'charge master not loaded: charge-master.csv:3 revenue_code: expected a four-digit UB-04 revenue code, e.g. 0301',
    );
  });

  it('reports every problem of a file at once', () => {
    const issues = issuesOf(
      '1,Two problems,80048,,301,LAB,-1.00,1,2026-01-01,,lab,LOINC,51990-0',
      '2,One problem,80048,,0301,LAB,1.00,1,2026-01-01,,lab,LOINC,2-2',
    );
    expect(issues.map((i) => i.split(':')[0])).toEqual([
      '2 revenue_code',
      '2 unit_price',
      '3 trigger_code',
    ]);
  });

  it('refuses overlapping price periods of a charge code', () => {
    const overlapping = issuesOf(
      BMP.replace('2026-01-01,', '2026-01-01,2026-06-30'),
      '30000101,Basic metabolic panel,80048,,0301,LAB-CHEM,45.00,1,2026-06-30,,lab,LOINC,51990-0',
    );
    // reported once, as a price overlap, not again as a trigger overlap
    expect(overlapping).toEqual([
      '3 effective_from: charge code 30000101 already has a price on line 2 (2026-01-01 to 2026-06-30) for part of this period',
    ]);
    // the next period starting the day after the last one ends is fine
    expect(
      issuesOf(
        BMP.replace('2026-01-01,', '2026-01-01,2026-06-30'),
        '30000101,Basic metabolic panel,80048,,0301,LAB-CHEM,45.00,1,2026-07-01,,lab,LOINC,51990-0',
      ),
    ).toEqual([]);
  });

  it('finds an overlap with an open-ended period however many rows lie between', () => {
    const rows = [
      BMP, // 2026-01-01, open
      BMP.replace('2026-01-01,', '2026-03-01,2026-03-31').replace('51990-0', '24323-8'),
      BMP.replace('2026-01-01,', '2026-05-01,').replace('51990-0', '24325-3'),
    ];
    const issues = issuesOf(...rows);
    expect(issues.filter((i) => i.includes('already has a price on line 2'))).toHaveLength(2);
  });

  it('refuses a trigger mapped to two charge codes in one period', () => {
    const twoCodes = issuesOf(
      BMP,
      '30000199,Another BMP,80048,,0301,LAB-CHEM,40.00,1,2026-03-01,,lab,LOINC,51990-0',
    );
    expect(twoCodes).toEqual([
      '3 trigger_code: trigger lab LOINC 51990-0 already maps to charge code 30000101 on line 2 (2026-01-01 to open) for part of this period',
    ]);
    // …but one trigger may move to another charge code from a date on
    expect(
      issuesOf(
        BMP.replace('2026-01-01,', '2026-01-01,2026-02-28'),
        '30000199,Another BMP,80048,,0301,LAB-CHEM,40.00,1,2026-03-01,,lab,LOINC,51990-0',
      ),
    ).toEqual([]);
    // the same code under two systems is two triggers
    expect(
      issuesOf(
        '50000101,Amlodipine 5 mg tablet,,,0250,PHARM,0.45,1,2026-01-01,,pharmacy,RXNORM,197361',
        '50000111,Amlodipine 5 mg tablet (lab?),,,0301,LAB,0.45,1,2026-01-01,,lab,LOCAL,197361',
      ),
    ).toEqual([]);
  });

  it('refuses a manifest without a version and a file with the wrong columns', () => {
    expect(() => parseChargeMaster([HEADER, BMP].join('\n'), '{}')).toThrow(
      /needs a non-empty "version"/,
    );
    expect(() => parseChargeMaster('charge_code,price\n1,2', MANIFEST)).toThrow(
      ChargeMasterLoadError,
    );
    expect(() => parseChargeMaster([HEADER, BMP].join('\n'), 'version: 1')).toThrow(
      /manifest.json: not JSON/,
    );
  });

  it('names the file it cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdm-empty-'));
    expect(() => loadChargeMaster(dir)).toThrow(/charge-master.csv: cannot be read/);
  });

  it('accepts what a spreadsheet writes: CRLF, a byte order mark, quoted commas, blank cells', () => {
    const cdm = parseChargeMaster(
      `\uFEFF${HEADER}\r\n${BMP.replace('Basic metabolic panel', '"Panel, basic metabolic"').replace(',1,2026', ',,2026')}\r\n`,
      MANIFEST,
    );
    expect(cdm.entries()[0]).toMatchObject({
      description: 'Panel, basic metabolic',
      quantityMultiplier: 1,
      effectiveTo: null,
      modifiers: [],
    });
  });
});

describe('ChargeMasterStore', () => {
  function tableDir(): { dir: string; csv: string } {
    const dir = mkdtempSync(join(tmpdir(), 'cdm-'));
    const csv = readFileSync(join(DEFAULT_CHARGE_MASTER_DIR, 'charge-master.csv'), 'utf8');
    writeFileSync(join(dir, 'charge-master.csv'), csv);
    writeFileSync(join(dir, 'manifest.json'), MANIFEST);
    return { dir, csv };
  }

  it('swaps in a valid reload and keeps the old table when the new one is broken', () => {
    const { dir, csv } = tableDir();
    const outcomes: ChargeMasterReloadOutcome[] = [];
    const store = new ChargeMasterStore({ dir, onReload: (o) => outcomes.push(o) });
    const first = store.current;
    expect(store.reload()).toMatchObject({ ok: true, changed: false, previous: first });
    expect(store.current).toBe(first);

    writeFileSync(join(dir, 'charge-master.csv'), `${csv}99999999,Broken row\n`);
    const failed = store.reload();
    expect(failed.ok).toBe(false);
    // reports why: file and line of the problem
    if (!failed.ok) expect(failed.error.message).toMatch(/charge-master\.csv:\d+: has 2 cells/);
    expect(failed.chargeMaster).toBe(first);
    expect(store.current).toBe(first);

    writeFileSync(
      join(dir, 'charge-master.csv'),
      `${csv}60000001,Venipuncture,36415,,0300,LAB,9.00,1,2026-01-01,,lab,LOCAL,VENI\n`,
    );
    const swapped = store.reload();
    expect(swapped).toMatchObject({ ok: true, changed: true, previous: first });
    expect(store.current).not.toBe(first);
    expect(store.current.hash).not.toBe(first.hash);
    expect(
      store.current.chargeFor({ kind: 'lab', system: 'LOCAL', code: 'VENI' }, '2026-12-04')
        .chargeCode,
    ).toBe('60000001');
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
  });

  it('changes the hash and version when only the manifest changes', () => {
    const { dir } = tableDir();
    const store = new ChargeMasterStore(dir);
    const first = store.current;
    writeFileSync(join(dir, 'manifest.json'), '{"version":"test-2"}');
    expect(store.reload()).toMatchObject({ ok: true, changed: true });
    expect(store.current.version).toBe('test-2');
    expect(store.current.hash).not.toBe(first.hash);
  });

  it('refuses to start without a valid table', () => {
    const { dir } = tableDir();
    writeFileSync(join(dir, 'manifest.json'), '{}');
    expect(() => new ChargeMasterStore(dir)).toThrow(ChargeMasterLoadError);
  });

  it('loads the starter set by default', () => {
    expect(new ChargeMasterStore().current.version).toBe('2026.12.0');
  });
});
