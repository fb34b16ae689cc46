import { loadTerminology } from '@ancillary/terminology';
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
} from './charge-master';
import { ChargeMasterStore } from './charge-master.store';

const HEADER =
  'charge_code,description,cpt_hcpcs,modifiers,revenue_code,department,unit_price,quantity_multiplier,effective_from,effective_to,trigger_kind,trigger_system,trigger_code';
const MANIFEST = '{"version":"test-1"}';
const BMP =
  '30000101,Basic metabolic panel,80048,,0301,LAB-CHEM,42.00,1,2026-01-01,,lab,LOINC,51990-0';

function parse(...rows: string[]) {
  return parseChargeMaster([HEADER, ...rows].join('\n'), MANIFEST);
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
  const terminology = loadTerminology();

  it('loads, with a version and a content hash', () => {
    expect(cdm.version).toBe('2026.12.0');
    expect(cdm.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(cdm.entries().length).toBeGreaterThan(30);
  });

  it('prices every lab panel, imaging study and drug the simulated ancillaries complete', () => {
    const day = '2026-12-04';
    const missing = [
      ...terminology
        .orderables('NWH-LAB')
        .map((o) => ({ kind: 'lab' as const, system: 'LOINC' as const, code: o.loincCode })),
      ...terminology
        .imagingProcedures('NWH-RAD')
        .map((p) => ({ kind: 'imaging' as const, system: 'CPT' as const, code: p.cptCode })),
      ...terminology
        .formulary('NWH-RX')
        .map((f) => ({ kind: 'pharmacy' as const, system: 'NDC' as const, code: f.ndc })),
    ].filter((trigger) => {
      try {
        cdm.chargeFor(trigger, day);
        return false;
      } catch {
        return true;
      }
    });
    expect(missing).toEqual([]);
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
    expect(cdm.chargeFor(cbc, '2026-12-31').unitPriceCents).toBe(2800);
    expect(cdm.chargeFor(cbc, '2027-01-01').unitPriceCents).toBe(2950);
    expect(cdm.chargeFor(cbc, '2031-06-30').unitPriceCents).toBe(2950); // open-ended
    expect(() => cdm.chargeFor(cbc, '2025-12-31')).toThrow(NoChargeDefinedError);
  });

  it('reads an instant as the calendar day in the hospital time zone', () => {
    // 2027-01-01T02:00Z is still 31 December in New York
    expect(serviceDay('2027-01-01T02:00:00Z', 'America/New_York')).toBe('2026-12-31');
    expect(
      cdm.chargeFor(cbc, new Date('2027-01-01T02:00:00Z'), 'America/New_York').unitPriceCents,
    ).toBe(2800);
    expect(cdm.chargeFor(cbc, new Date('2027-01-01T02:00:00Z')).unitPriceCents).toBe(2950);
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
    expect(error.message).toBe(
      'no charge defined for imaging CPT 99999 on 2026-06-01 (charge master test-1)',
    );
  });
});

describe('validation', () => {
  it.each([
    ['x y,Bad code,80048,,0301,LAB,1.00,1,2026-01-01,,lab,LOINC,1-1', 'charge_code'],
    [
      '1,No description,80048,,0301,LAB,1.00,1,2026-01-01,,lab,LOINC,1-1'.replace(
        'No description',
        '',
      ),
      'description',
    ],
    ['1,Bad CPT,8004,,0301,LAB,1.00,1,2026-01-01,,lab,LOINC,1-1', 'cpt_hcpcs'],
    ['1,Bad modifier,80048,TCX,0301,LAB,1.00,1,2026-01-01,,lab,LOINC,1-1', 'modifiers'],
    ['1,Bad revenue code,80048,,301,LAB,1.00,1,2026-01-01,,lab,LOINC,1-1', 'revenue_code'],
    ['1,Negative price,80048,,0301,LAB,-1.00,1,2026-01-01,,lab,LOINC,1-1', 'unit_price'],
    ['1,Three decimals,80048,,0301,LAB,1.005,1,2026-01-01,,lab,LOINC,1-1', 'unit_price'],
    ['1,Zero multiplier,80048,,0301,LAB,1.00,0,2026-01-01,,lab,LOINC,1-1', 'quantity_multiplier'],
    ['1,Bad from,80048,,0301,LAB,1.00,1,2026-13-01,,lab,LOINC,1-1', 'effective_from'],
    ['1,Backwards,80048,,0301,LAB,1.00,1,2026-02-01,2026-01-01,lab,LOINC,1-1', 'effective_to'],
    ['1,Bad kind,80048,,0301,LAB,1.00,1,2026-01-01,,surgery,CPT,1-1', 'trigger_kind'],
    ['1,Kind and system disagree,80048,,0301,LAB,1.00,1,2026-01-01,,lab,NDC,1-1', 'trigger_system'],
    ['1,Bad NDC,,,0250,RX,1.00,1,2026-01-01,,pharmacy,NDC,123', 'trigger_code'],
  ])('refuses %s (column %s), naming line and column', (row, column) => {
    const issues = issuesOf(row);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]).toContain(`2 ${column}:`);
  });

  it('refuses overlapping price periods of a charge code, and two codes for one trigger on a day', () => {
    const overlapping = issuesOf(
      BMP.replace('2026-01-01,', '2026-01-01,2026-06-30'),
      '30000101,Basic metabolic panel,80048,,0301,LAB-CHEM,45.00,1,2026-06-30,,lab,LOINC,51990-0',
    );
    expect(overlapping.join('\n')).toMatch(
      /3 effective_from: the same charge code overlaps the period of line 2/,
    );
    const twoCodes = issuesOf(
      BMP,
      '30000199,Another BMP,80048,,0301,LAB-CHEM,40.00,1,2026-03-01,,lab,LOINC,51990-0',
    );
    expect(twoCodes.join('\n')).toMatch(/the same trigger overlaps/);
  });

  it('refuses a manifest without a version and a file with the wrong columns', () => {
    expect(() => parseChargeMaster([HEADER, BMP].join('\n'), '{}')).toThrow(
      /needs a non-empty "version"/,
    );
    expect(() => parseChargeMaster('charge_code,price\n1,2', MANIFEST)).toThrow(
      ChargeMasterLoadError,
    );
  });
});

describe('ChargeMasterStore', () => {
  it('swaps in a valid reload and keeps the old table when the new one is broken', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdm-'));
    const csv = readFileSync(join(DEFAULT_CHARGE_MASTER_DIR, 'charge-master.csv'), 'utf8');
    writeFileSync(join(dir, 'charge-master.csv'), csv);
    writeFileSync(join(dir, 'manifest.json'), MANIFEST);
    const store = new ChargeMasterStore(dir);
    const first = store.current;
    expect(store.reload()).toMatchObject({ ok: true, changed: false });
    expect(store.current).toBe(first);

    writeFileSync(join(dir, 'charge-master.csv'), `${csv}99999999,Broken row\n`);
    const failed = store.reload();
    expect(failed.ok).toBe(false);
    expect(store.current).toBe(first);

    writeFileSync(
      join(dir, 'charge-master.csv'),
      `${csv}60000001,Venipuncture,36415,,0300,LAB,9.00,1,2026-01-01,,lab,LOCAL,VENI\n`,
    );
    expect(store.reload()).toMatchObject({ ok: true, changed: true });
    expect(
      store.current.chargeFor({ kind: 'lab', system: 'LOCAL', code: 'VENI' }, '2026-12-04')
        .chargeCode,
    ).toBe('60000001');
  });
});
