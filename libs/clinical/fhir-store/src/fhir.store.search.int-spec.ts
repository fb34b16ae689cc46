/**
 * Searches against the real PostgreSQL, over results written by the LabResult writer: token,
 * reference, date (prefixes, partial dates, the repository's time zone), chains, includes in
 * both directions, paging and sorting; and the index rebuild.
 */
import type { Pool } from 'pg';
import { labResult, observation, T0 } from '../test/lab-result.fixture';
import { createScratchDatabase, type ScratchDatabase } from '@ancillary/testing';
import { FhirStore } from './fhir.store';
import type { FhirResourceType } from './fhir.types';
import { parseSearchQuery } from './search-query';

let db: ScratchDatabase;
let pool: Pool;
let store: FhirStore;
let patientA: string;
let patientB: string;
const reports: Record<string, string> = {};

const DAY = 24 * 3_600_000;

beforeAll(async () => {
  db = await createScratchDatabase();
  pool = db.pool(4);
  // Amsterdam: a date without offset is a local day (UTC+1 in March).
  store = new FhirStore(pool, { timeZone: 'Europe/Amsterdam' });
  await store.migrate();
  const write = async (name: string, r: ReturnType<typeof labResult>) => {
    const receipt = await store.writeLabResult(r);
    reports[name] = receipt.diagnosticReportId;
    return receipt;
  };
  // Patient A: glucose panel on 5 March 08:00Z, potassium-only on 7 March, a preliminary on 9 March.
  patientA = (
    await write('a1', labResult({ mrn: 'MRN-S-A', filler: 'S-A1', messageControlId: 'S-1' }))
  ).patientId;
  await write(
    'a2',
    labResult(
      { mrn: 'MRN-S-A', filler: 'S-A2', messageControlId: 'S-2' },
      {
        effectiveAt: T0 + 2 * DAY,
        observations: [
          observation({
            code: { system: 'http://loinc.org', code: '2823-3', display: null },
            localCode: { system: 'urn:lis:local', code: 'K', display: 'Potassium' },
          }),
        ],
      },
    ),
  );
  await write(
    'a3',
    labResult(
      { mrn: 'MRN-S-A', filler: 'S-A3', messageControlId: 'S-3' },
      { status: 'PRELIMINARY', effectiveAt: T0 + 4 * DAY },
    ),
  );
  // Patient B: one report, 5 March 23:30Z = 6 March 00:30 in Amsterdam.
  patientB = (
    await write(
      'b1',
      labResult(
        { mrn: 'MRN-S-B', filler: 'S-B1', messageControlId: 'S-4' },
        { effectiveAt: T0 + 15.5 * 3_600_000 },
      ),
    )
  ).patientId;
});

afterAll(async () => {
  await db.drop();
});

async function search(type: FhirResourceType, qs: string) {
  return store.search(parseSearchQuery(type, new URLSearchParams(qs).entries()));
}

async function reportIds(qs: string): Promise<string[]> {
  const result = await search('DiagnosticReport', qs);
  return result.matches.map((m) => m.id).sort();
}

const ids = (...names: string[]): string[] => names.map((n) => reports[n]!).sort();

describe('token and reference parameters', () => {
  it('finds a patient by identifier in every token form', async () => {
    for (const qs of ['identifier=MRN-S-A', 'identifier=urn:hospital:mrn|MRN-S-A']) {
      const result = await search('Patient', qs);
      expect(result.total).toBe(1);
      expect(result.matches[0]?.id).toBe(patientA);
    }
    expect((await search('Patient', 'identifier=|MRN-S-A')).total).toBe(0);
    expect((await search('Patient', 'identifier=urn:hospital:mrn|')).total).toBe(2);
    expect((await search('Patient', 'identifier=urn:other|MRN-S-A')).total).toBe(0);
  });

  it('finds reports by patient in each reference form, and by code, status and identifier', async () => {
    expect(await reportIds(`patient=${patientA}`)).toEqual(ids('a1', 'a2', 'a3'));
    expect(await reportIds(`patient=Patient/${patientB}`)).toEqual(ids('b1'));
    expect(await reportIds(`subject:Patient=${patientB}`)).toEqual(ids('b1'));
    expect(await reportIds(`patient=${patientA}&status=preliminary`)).toEqual(ids('a3'));
    expect(
      await reportIds(
        `status=http://hl7.org/fhir/diagnostic-report-status|final&patient=${patientA}`,
      ),
    ).toEqual(ids('a1', 'a2'));
    expect(await reportIds('code=http://loinc.org|51990-0&identifier=S-A2')).toEqual(ids('a2'));
    expect(
      await reportIds('code=BMP&category=http://terminology.hl7.org/CodeSystem/v2-0074|LAB'),
    ).toHaveLength(4);
    expect(await reportIds('patient.identifier=urn:hospital:mrn|MRN-S-B')).toEqual(ids('b1'));
  });

  it('finds observations by patient, LOINC or local code and category', async () => {
    const potassium = await search(
      'Observation',
      `patient=${patientA}&code=http://loinc.org|2823-3`,
    );
    expect(potassium.total).toBe(3);
    const local = await search('Observation', `patient=${patientA}&code=urn:lis:local|K`);
    expect(local.total).toBe(3);
    const glucose = await search(
      'Observation',
      `patient=${patientA}&code=2345-7&category=laboratory`,
    );
    expect(glucose.total).toBe(2);
  });
});

describe('date parameters', () => {
  it('compares ranges with eq, lt, le, gt, ge and ne on partial dates', async () => {
    expect(await reportIds(`patient=${patientA}&date=2026-03-05`)).toEqual(ids('a1'));
    expect(await reportIds(`patient=${patientA}&date=2026-03`)).toEqual(ids('a1', 'a2', 'a3'));
    expect(await reportIds(`patient=${patientA}&date=gt2026-03-05`)).toEqual(ids('a2', 'a3'));
    expect(await reportIds(`patient=${patientA}&date=ge2026-03-07`)).toEqual(ids('a2', 'a3'));
    expect(await reportIds(`patient=${patientA}&date=lt2026-03-07`)).toEqual(ids('a1'));
    expect(await reportIds(`patient=${patientA}&date=le2026-03-07`)).toEqual(ids('a1', 'a2'));
    expect(await reportIds(`patient=${patientA}&date=ne2026-03-07`)).toEqual(ids('a1', 'a3'));
    expect(await reportIds(`patient=${patientA}&date=ge2026-03-06&date=lt2026-03-08`)).toEqual(
      ids('a2'),
    );
    expect(await reportIds('date=2026-03-05T08:00:00Z')).toEqual(ids('a1'));
  });

  it('reads dates without an offset in the repository time zone', async () => {
    // 23:30Z on 5 March is 00:30 on 6 March in Amsterdam.
    expect(await reportIds(`patient=${patientB}&date=2026-03-06`)).toEqual(ids('b1'));
    expect(await reportIds(`patient=${patientB}&date=2026-03-05`)).toEqual([]);
    expect(await reportIds(`patient=${patientB}&date=2026-03-05T23:30Z`)).toEqual(ids('b1'));
  });

  it('filters on _lastUpdated and _id', async () => {
    expect(
      (await search('DiagnosticReport', `_lastUpdated=gt2000-01-01&patient=${patientA}`)).total,
    ).toBe(3);
    expect((await search('DiagnosticReport', '_lastUpdated=lt2000-01-01')).total).toBe(0);
    expect(await reportIds(`_id=${reports['a1']},${reports['b1']}`)).toEqual(ids('a1', 'b1'));
  });
});

describe('includes, paging and sorting', () => {
  it('includes the observations of reports, and the reports of observations', async () => {
    const forward = await search(
      'DiagnosticReport',
      `identifier=S-A1&_include=DiagnosticReport:result&_include=DiagnosticReport:patient`,
    );
    expect(forward.matches.map((m) => m.id)).toEqual([reports['a1']]);
    expect(forward.included.map((r) => r.resourceType).sort()).toEqual([
      'Observation',
      'Observation',
      'Patient',
    ]);

    const backward = await search(
      'Observation',
      `patient=${patientB}&_revinclude=DiagnosticReport:result`,
    );
    expect(backward.total).toBe(2);
    expect(backward.included.map((r) => r.id)).toEqual([reports['b1']]);
  });

  it('pages with _count and _offset and sorts by date', async () => {
    const newestFirst = await search(
      'DiagnosticReport',
      `patient=${patientA}&_sort=-date&_count=2`,
    );
    expect(newestFirst.total).toBe(3);
    expect(newestFirst.matches.map((m) => m.id)).toEqual([reports['a3'], reports['a2']]);
    const next = await search(
      'DiagnosticReport',
      `patient=${patientA}&_sort=-date&_count=2&_offset=2`,
    );
    expect(next.matches.map((m) => m.id)).toEqual([reports['a1']]);
    const oldestFirst = await search('DiagnosticReport', `patient=${patientA}&_sort=date`);
    expect(oldestFirst.matches.map((m) => m.id)).toEqual([
      reports['a1'],
      reports['a2'],
      reports['a3'],
    ]);
    const countOnly = await search('DiagnosticReport', `patient=${patientA}&_count=0`);
    expect(countOnly).toEqual({ total: 3, matches: [], included: [] });
    const noTotal = await search('DiagnosticReport', `patient=${patientA}&_total=none`);
    expect(noTotal.total).toBeUndefined();
    expect(noTotal.matches).toHaveLength(3);
  });
});

describe('reindex', () => {
  it('rebuilds the search rows from the stored content', async () => {
    await pool.query('DELETE FROM fhir.search_token');
    await pool.query('DELETE FROM fhir.search_reference');
    await pool.query('DELETE FROM fhir.search_date');
    expect((await search('Patient', 'identifier=MRN-S-A')).total).toBe(0);
    const indexed = await store.reindex({ batchSize: 5 });
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM fhir.resource',
    );
    expect(indexed).toBe(rows[0]!.n);
    expect((await search('Patient', 'identifier=MRN-S-A')).matches[0]?.id).toBe(patientA);
    expect(await reportIds(`patient=${patientA}&date=2026-03-05`)).toEqual(ids('a1'));
  });
});
