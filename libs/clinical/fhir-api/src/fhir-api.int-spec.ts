/**
 * The FHIR API in a Nest application on an ephemeral port, over a real PostgreSQL database
 * filled by FhirStore.writeLabResult with synthetic results; every check is a real HTTP request.
 */
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { type LabResult, labResultEventId } from '@ancillary/contracts';
import { createPool } from '@ancillary/database';
import { FhirStore } from '@ancillary/fhir-store';
import { captureLogger } from '@ancillary/testing';
import { createScratchDatabase, type ScratchDatabase } from '@ancillary/testing';
import type { Bundle } from './bundle';
import type { CapabilityStatement } from './capability-statement';
import { FhirApiModule } from './fhir-api.module';
import type { OperationOutcome } from './operation-outcome';

const T0 = Date.parse('2026-04-01T07:30:00.000Z');
const LOINC = 'http://loinc.org';

type Line = LabResult['observations'][number];

function line(setId: number, loinc: string, local: string, numeric: number, unit: string): Line {
  return {
    setId,
    code: { system: LOINC, code: loinc, display: null },
    localCode: { system: 'urn:lis:local', code: local, display: local },
    value: { kind: 'NUMERIC', numeric, comparator: null, coded: null, text: null },
    unit: { system: 'http://unitsofmeasure.org', code: unit, display: unit },
    referenceRange: null,
    referenceLow: null,
    referenceHigh: null,
    interpretation: [],
    status: 'FINAL',
    observedAt: null,
    notes: [],
    critical: false,
  };
}

function result(
  controlId: string,
  mrn: string,
  filler: string,
  effectiveAt: number,
  overrides: Partial<LabResult> = {},
): LabResult {
  return {
    eventId: labResultEventId('LIS-API', controlId, 0, 'api-fixture'),
    sourceSystem: 'LIS-API',
    messageControlId: controlId,
    orderIndex: 0,
    envelopeId: null,
    receivedAt: effectiveAt + 3_600_000,
    patient: {
      identifiers: [{ value: mrn, system: 'urn:hospital:mrn', type: 'MR' }],
      familyName: 'Synthetic',
      givenNames: ['Sam'],
      birthDate: '1985-06-15',
      administrativeSex: 'M',
    },
    order: {
      placerOrderNumber: `P-${filler}`,
      fillerOrderNumber: filler,
      code: { system: LOINC, code: '24323-8', display: 'Comprehensive metabolic panel' },
      localCode: { system: 'urn:lis:local', code: 'CMP', display: 'CMP' },
      priority: null,
      orderingProvider: null,
    },
    specimen: null,
    status: 'FINAL',
    highPriority: false,
    effectiveAt,
    issuedAt: effectiveAt + 1_800_000,
    observations: [
      line(1, '2345-7', 'GLU', 95, 'mg/dL'),
      line(2, '2951-2', 'NA', 140, 'mmol/L'),
      line(3, '2823-3', 'K', 4.2, 'mmol/L'),
    ],
    notes: [],
    visit: null,
    ...overrides,
  };
}

let db: ScratchDatabase;
let store: FhirStore;
let app: INestApplication;
let base: string;
let patientId: string;
const reportIds: string[] = [];
const captured = captureLogger('fhir-api-int', 'debug');

async function get(path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, { headers });
  const text = await response.text();
  return { response, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

async function bundle(path: string): Promise<Bundle> {
  const { response, body } = await get(path);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
  expect(body?.['resourceType']).toBe('Bundle');
  return body as unknown as Bundle;
}

async function outcome(
  path: string,
  status: number,
  init?: RequestInit,
): Promise<OperationOutcome> {
  const response = await fetch(`${base}${path}`, init);
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
  const body = (await response.json()) as OperationOutcome;
  expect(body.resourceType).toBe('OperationOutcome');
  return body;
}

beforeAll(async () => {
  db = await createScratchDatabase();
  store = new FhirStore(db.pool(5));
  await store.migrate();
  // One patient, five panels on consecutive days; the third corrected later.
  for (let day = 0; day < 5; day++) {
    const receipt = await store.writeLabResult(
      result(`API-${day}`, 'MRN-API-1', `F-API-${day}`, T0 + day * 86_400_000),
    );
    patientId = receipt.patientId;
    reportIds.push(receipt.diagnosticReportId);
  }
  const corrected = result('API-2-C', 'MRN-API-1', 'F-API-2', T0 + 2 * 86_400_000, {
    status: 'CORRECTED',
    receivedAt: T0 + 10 * 86_400_000,
  });
  corrected.observations[0] = { ...line(1, '2345-7', 'GLU', 250, 'mg/dL'), status: 'CORRECTED' };
  await store.writeLabResult(corrected);
  // Another patient, so that patient filters have something to filter out.
  await store.writeLabResult(result('API-X', 'MRN-API-2', 'F-API-X', T0));

  const moduleRef = await Test.createTestingModule({
    imports: [FhirApiModule.forRoot({ store, logger: captured.logger })],
  }).compile();
  app = moduleRef.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  base = await app.getUrl();
});

afterAll(async () => {
  await app.close();
  await db.drop();
});

describe('metadata', () => {
  it('lists the resources, interactions and search parameters supported', async () => {
    const { response, body } = await get('/fhir/metadata');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
    const statement = body as unknown as CapabilityStatement;
    expect(statement.fhirVersion).toBe('4.0.1');
    const report = statement.rest[0]!.resource.find((r) => r.type === 'DiagnosticReport')!;
    expect(report.interaction.map((i) => i.code)).toEqual([
      'read',
      'vread',
      'history-instance',
      'search-type',
    ]);
    expect(report.searchParam.map((p) => p.name)).toEqual(
      expect.arrayContaining(['patient', 'code', 'status', 'date', 'identifier', '_id']),
    );
    expect(report.searchInclude).toContain('DiagnosticReport:result');
    const observation = statement.rest[0]!.resource.find((r) => r.type === 'Observation')!;
    expect(observation.searchRevInclude).toContain('DiagnosticReport:result');
    expect(statement.rest[0]!.resource.map((r) => r.type).sort()).toEqual([
      'ChargeItem',
      'DiagnosticReport',
      'ImagingStudy',
      'MedicationDispense',
      'MedicationRequest',
      'Observation',
      'Patient',
      'ServiceRequest',
      'Specimen',
    ]);
    // This module has no order router: patients can be created, orders not.
    const patient = statement.rest[0]!.resource.find((r) => r.type === 'Patient')!;
    expect(patient.interaction.map((i) => i.code)).toContain('create');
    expect(patient.conditionalCreate).toBe(true);
    const order = statement.rest[0]!.resource.find((r) => r.type === 'ServiceRequest')!;
    expect(order.interaction.map((i) => i.code)).not.toContain('create');
  });
});

describe('read, vread and history', () => {
  it('reads the current version with ETag and Last-Modified', async () => {
    const { response, body } = await get(`/fhir/DiagnosticReport/${reportIds[2]}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
    expect(response.headers.get('etag')).toBe('W/"2"');
    expect(new Date(response.headers.get('last-modified')!).getTime()).toBeGreaterThan(0);
    expect(response.headers.get('content-location')).toBe(
      `${base}/fhir/DiagnosticReport/${reportIds[2]}/_history/2`,
    );
    expect(body).toMatchObject({
      resourceType: 'DiagnosticReport',
      id: reportIds[2],
      status: 'corrected',
      meta: { versionId: '2' },
      subject: { reference: `Patient/${patientId}` },
    });
  });

  it('answers 304 when the client has the current version', async () => {
    const { response, body } = await get(`/fhir/DiagnosticReport/${reportIds[2]}`, {
      'If-None-Match': 'W/"2"',
    });
    expect(response.status).toBe(304);
    expect(body).toBeUndefined();
  });

  it('lists every version in a history bundle and reads each one', async () => {
    const history = await bundle(`/fhir/DiagnosticReport/${reportIds[2]}/_history`);
    expect(history.type).toBe('history');
    expect(history.total).toBe(2);
    expect(
      history.entry.map((e) => [e.resource['status'], e.request?.method, e.response?.etag]),
    ).toEqual([
      ['corrected', 'PUT', 'W/"2"'],
      ['final', 'POST', 'W/"1"'],
    ]);
    const { response, body } = await get(`/fhir/DiagnosticReport/${reportIds[2]}/_history/1`);
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe('W/"1"');
    expect(body).toMatchObject({ status: 'final', meta: { versionId: '1' } });
  });

  it('answers unknown types, ids and versions with 404, malformed ones with 400', async () => {
    const type = await outcome('/fhir/Encounter/abc', 404);
    expect(type.issue[0]?.code).toBe('not-supported');
    expect(type.issue[0]?.diagnostics).toContain("'Encounter'");
    const id = await outcome('/fhir/Patient/no-such-patient', 404);
    expect(id.issue[0]).toMatchObject({
      code: 'not-found',
      diagnostics: 'Patient/no-such-patient is not known',
    });
    await outcome(`/fhir/DiagnosticReport/${reportIds[2]}/_history/9`, 404);
    await outcome('/fhir/Patient/no-such-patient/_history', 404);
    const badVersion = await outcome(`/fhir/DiagnosticReport/${reportIds[2]}/_history/x`, 400);
    expect(badVersion.issue[0]?.code).toBe('value');
    await outcome(`/fhir/Patient/${'x'.repeat(65)}`, 400);
    await outcome('/fhir/Encounter?subject=x', 404);
  });

  it('refuses unsupported writes and unknown paths with OperationOutcomes', async () => {
    const post = await outcome('/fhir/Observation', 405, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/fhir+json' },
    });
    expect(post.issue[0]?.code).toBe('not-supported');
    // Without an order router, orders cannot be placed.
    await outcome('/fhir/ServiceRequest', 405, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/fhir+json' },
    });
    await outcome(`/fhir/Patient/${patientId}`, 405, { method: 'DELETE' });
    await outcome('/fhir', 404);
    await outcome('/fhir/Patient/x/y/z/w', 404);
  });

  it('answers 406 when only XML is acceptable', async () => {
    await outcome('/fhir/metadata?_format=xml', 406);
    await outcome('/fhir/metadata', 406, { headers: { accept: 'application/fhir+xml' } });
    const json = await fetch(`${base}/fhir/metadata?_format=json&_pretty=true`);
    expect(json.status).toBe(200);
    expect(await json.text()).toContain('\n  "resourceType"');
  });
});

describe('search', () => {
  it('finds the patient by identifier', async () => {
    const found = await bundle('/fhir/Patient?identifier=urn:hospital:mrn|MRN-API-1');
    expect(found.type).toBe('searchset');
    expect(found.total).toBe(1);
    expect(found.entry[0]).toMatchObject({
      fullUrl: `${base}/fhir/Patient/${patientId}`,
      resource: { resourceType: 'Patient', id: patientId },
      search: { mode: 'match' },
    });
    expect(found.link.find((l) => l.relation === 'self')?.url).toContain(
      'identifier=urn%3Ahospital%3Amrn%7CMRN-API-1',
    );
  });

  it('finds reports by patient, code, status and date', async () => {
    const all = await bundle(`/fhir/DiagnosticReport?patient=Patient/${patientId}`);
    expect(all.total).toBe(5);
    const filtered = await bundle(
      `/fhir/DiagnosticReport?patient=${patientId}&code=http://loinc.org|24323-8&status=final&date=ge2026-04-02&date=lt2026-04-05`,
    );
    expect(filtered.entry.map((e) => e.resource.id).sort()).toEqual(
      [reportIds[1], reportIds[3]].sort(),
    );
    const corrected = await bundle(`/fhir/DiagnosticReport?patient=${patientId}&status=corrected`);
    expect(corrected.entry.map((e) => e.resource.id)).toEqual([reportIds[2]]);
    const byIdentifier = await bundle('/fhir/DiagnosticReport?identifier=F-API-4');
    expect(byIdentifier.entry.map((e) => e.resource.id)).toEqual([reportIds[4]]);
  });

  it('finds observations by patient, code, date and category, with their LOINC code, unit and value', async () => {
    const glucose = await bundle(
      `/fhir/Observation?patient=${patientId}&code=http://loinc.org|2345-7&category=laboratory&date=2026-04-03&_sort=-date`,
    );
    expect(glucose.total).toBe(1);
    expect(glucose.entry[0]?.resource).toMatchObject({
      status: 'corrected',
      code: { coding: [{ system: LOINC, code: '2345-7' }, { code: 'GLU' }] },
      valueQuantity: {
        value: 250,
        unit: 'mg/dL',
        system: 'http://unitsofmeasure.org',
        code: 'mg/dL',
      },
    });
    const local = await bundle(`/fhir/Observation?patient=${patientId}&code=urn:lis:local|K`);
    expect(local.total).toBe(5);
  });

  it('includes the observations of reports and the reports of observations', async () => {
    const forward = await bundle(
      `/fhir/DiagnosticReport?identifier=F-API-0&_include=DiagnosticReport:result&_include=DiagnosticReport:subject`,
    );
    expect(forward.total).toBe(1);
    // Matches first, then what they include (the results, then the subject).
    expect(forward.entry.map((e) => [e.resource.resourceType, e.search?.mode])).toEqual([
      ['DiagnosticReport', 'match'],
      ['Observation', 'include'],
      ['Observation', 'include'],
      ['Observation', 'include'],
      ['Patient', 'include'],
    ]);
    expect(forward.entry[4]?.fullUrl).toBe(`${base}/fhir/Patient/${patientId}`);

    const backward = await bundle(
      `/fhir/Observation?patient=${patientId}&code=2951-2&date=2026-04-01&_revinclude=DiagnosticReport:result`,
    );
    expect(backward.entry.map((e) => [e.resource.resourceType, e.search?.mode])).toEqual([
      ['Observation', 'match'],
      ['DiagnosticReport', 'include'],
    ]);
    expect(backward.entry[1]?.resource.id).toBe(reportIds[0]);
  });

  it('pages with _count and follows next links to the end', async () => {
    const seen: string[] = [];
    let page = await bundle(`/fhir/DiagnosticReport?patient=${patientId}&_count=2&_sort=date`);
    expect(page.total).toBe(5);
    expect(page.link.map((l) => l.relation)).toEqual(['self', 'first', 'next', 'last']);
    for (;;) {
      seen.push(...page.entry.map((e) => e.resource.id!));
      const next = page.link.find((l) => l.relation === 'next');
      if (!next) break;
      expect(next.url.startsWith(`${base}/fhir/DiagnosticReport?`)).toBe(true);
      page = await bundle(next.url.slice(base.length));
      expect(page.link.some((l) => l.relation === 'previous')).toBe(true);
    }
    expect(seen).toEqual(reportIds);
    const capped = await bundle(`/fhir/Observation?patient=${patientId}&_count=1000`);
    expect(capped.link[0]?.url).toContain('_count=200');
  });

  it('refuses unknown and malformed parameters with 400 naming them', async () => {
    const unknown = await outcome('/fhir/DiagnosticReport?patient=x&colour=blue', 400);
    expect(unknown.issue).toHaveLength(1);
    expect(unknown.issue[0]).toMatchObject({ code: 'not-supported', expression: ['colour'] });
    expect(unknown.issue[0]?.diagnostics).toMatch(/^colour: unknown search parameter/);
    const malformed = await outcome('/fhir/Observation?date=2026-02-30&_count=abc', 400);
    expect(malformed.issue.map((i) => i.expression?.[0])).toEqual(['date', '_count']);
    await outcome('/fhir/Observation?_include=Observation:nothing', 400);
  });

  it('answers 503 with Retry-After when the repository is unreachable', async () => {
    const unreachable = createPool({
      databaseUrl: 'postgres://postgres@127.0.0.1:1/none',
      connectionTimeoutMs: 500,
    });
    const moduleRef = await Test.createTestingModule({
      imports: [
        FhirApiModule.forRoot({
          store: new FhirStore(unreachable),
          logger: captured.logger,
          baseUrl: 'https://ehr.example/fhir/',
        }),
      ],
    }).compile();
    const down = moduleRef.createNestApplication({ logger: false });
    await down.listen(0, '127.0.0.1');
    try {
      const response = await fetch(`${await down.getUrl()}/fhir/Patient?identifier=x`);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      const body = (await response.json()) as OperationOutcome;
      expect(body.issue[0]?.code).toBe('transient');
      expect(
        captured.lines().some((l) => l['msg'] === 'FHIR request failed' && l['status'] === 503),
      ).toBe(true);
      const metadata = (await (
        await fetch(`${await down.getUrl()}/fhir/metadata`)
      ).json()) as CapabilityStatement;
      expect(metadata.implementation.url).toBe('https://ehr.example/fhir');
    } finally {
      await down.close();
      await unreachable.end();
    }
  });
});
