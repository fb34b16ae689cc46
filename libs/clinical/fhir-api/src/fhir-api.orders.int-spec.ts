/**
 * The write side of the FHIR API in a Nest application on an ephemeral port, over a real
 * PostgreSQL database: creating patients and orders (conditional creates included, also
 * concurrent ones), cancelling orders, and every refusal as an OperationOutcome with its status
 * and the element it concerns. Real HTTP requests throughout.
 */
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { MessageHeaders } from '@ancillary/contracts';
import {
  FhirStore,
  type OrderRouter,
  type ResourceBase,
  UnroutableOrderError,
} from '@ancillary/fhir-store';
import { startTracing, type TracingHandle } from '@ancillary/observability';
import { captureLogger, createScratchDatabase, type ScratchDatabase } from '@ancillary/testing';
import type { Pool } from 'pg';
import type { CapabilityStatement } from './capability-statement';
import { FhirApiModule } from './fhir-api.module';
import type { OperationOutcome } from './operation-outcome';

const PLACER = 'urn:ancillary:placer-order';
const MRN = 'urn:hospital:mrn';
const FHIR_JSON = 'application/fhir+json';

const router: OrderRouter = {
  route(category, coding) {
    if (coding.code === '0000-0')
      throw new UnroutableOrderError(`no route for ${category} code 0000-0`);
    return { destination: `api-${category.toLowerCase()}`, facility: 'NWH-TEST' };
  },
  rule: (priority) =>
    priority === 'stat'
      ? { lane: 'STAT', highPriorityResult: true }
      : { lane: 'ROUTINE', highPriorityResult: false },
};

let db: ScratchDatabase;
let pool: Pool;
let store: FhirStore;
let app: INestApplication;
let base: string;
let tracing: TracingHandle;
let patientId: string;
const captured = captureLogger('fhir-api-orders-int', 'debug');

type Json = Record<string, unknown>;

async function send(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ response: Response; json: Json | undefined }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': FHIR_JSON, ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { response, json: text ? (JSON.parse(text) as Json) : undefined };
}

async function refused(
  status: number,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<OperationOutcome> {
  const { response, json } = await send(method, path, body, headers);
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
  expect(json?.['resourceType']).toBe('OperationOutcome');
  return json as unknown as OperationOutcome;
}

function patient(mrn: string): Json {
  return {
    resourceType: 'Patient',
    identifier: [{ system: MRN, value: mrn, type: { coding: [{ code: 'MR' }] } }],
    name: [{ family: 'Synthetic', given: ['Alex'] }],
    gender: 'other',
    birthDate: '1990-01-02',
  };
}

function labOrder(placer?: string, overrides: Json = {}): Json {
  return {
    resourceType: 'ServiceRequest',
    ...(placer
      ? {
          identifier: [{ system: PLACER, value: placer, type: { coding: [{ code: 'PLAC' }] } }],
        }
      : {}),
    status: 'active',
    intent: 'order',
    category: [{ coding: [{ system: 'http://snomed.info/sct', code: '108252007' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '2345-7', display: 'Glucose' }] },
    subject: { reference: `Patient/${patientId}` },
    ...overrides,
  };
}

async function outboxRow(resourceId: string, action = 'NEW') {
  const { rows } = await pool.query<{
    topic: string;
    message_key: string;
    headers: Json;
    payload: Json;
  }>(
    `SELECT topic, message_key, headers, payload FROM fhir.outbox
     WHERE payload->>'resourceId' = $1 AND payload->>'action' = $2`,
    [resourceId, action],
  );
  return rows;
}

async function startApp(options: {
  bodyParser: boolean;
  maxBodyBytes?: number;
}): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      FhirApiModule.forRoot({
        store,
        logger: captured.logger,
        orders: { router },
        ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
      }),
    ],
  }).compile();
  const started = moduleRef.createNestApplication({
    logger: false,
    bodyParser: options.bodyParser,
  });
  await started.listen(0, '127.0.0.1');
  return started;
}

beforeAll(async () => {
  tracing = startTracing({ serviceName: 'fhir-api-orders-int' });
  db = await createScratchDatabase();
  pool = db.pool(12);
  store = new FhirStore(pool, { logger: captured.logger });
  await store.migrate();
  app = await startApp({ bodyParser: false, maxBodyBytes: 4096 });
  base = await app.getUrl();
  const { response, json } = await send('POST', '/fhir/Patient', patient('MRN-API-ORD'));
  expect(response.status).toBe(201);
  patientId = String(json?.['id']);
});

afterAll(async () => {
  await app.close();
  await db.drop();
  await tracing.shutdown();
});

describe('POST /fhir/Patient', () => {
  it('creates a patient once; If-None-Exist answers the existing one, a plain duplicate is refused', async () => {
    const first = await send('POST', '/fhir/Patient', patient('MRN-API-P2'), {
      'If-None-Exist': `identifier=${MRN}|MRN-API-P2`,
    });
    expect(first.response.status).toBe(201);
    const id = String(first.json?.['id']);
    expect(first.response.headers.get('location')).toBe(`${base}/fhir/Patient/${id}/_history/1`);
    expect(first.response.headers.get('etag')).toBe('W/"1"');
    expect(first.json).toMatchObject({
      resourceType: 'Patient',
      meta: { versionId: '1' },
      gender: 'other',
    });
    const again = await send('POST', '/fhir/Patient', patient('MRN-API-P2'), {
      'If-None-Exist': `identifier=${encodeURIComponent(`${MRN}|MRN-API-P2`)}`,
    });
    expect(again.response.status).toBe(200);
    expect(again.json?.['id']).toBe(id);
    const duplicate = await refused(422, 'POST', '/fhir/Patient', patient('MRN-API-P2'));
    expect(duplicate.issue[0]).toMatchObject({
      code: 'duplicate',
      expression: ['Patient.identifier'],
    });
  });
});

describe('POST /fhir/ServiceRequest and /fhir/MedicationRequest', () => {
  it('places an order: 201 with Location, ETag and the stored order; its event carries the caller trace', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const { response, json } = await send(
      'POST',
      '/fhir/ServiceRequest',
      labOrder(undefined, { priority: 'stat' }),
      {
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
        [MessageHeaders.correlationId]: 'corr-api-1',
      },
    );
    expect(response.status).toBe(201);
    const id = String(json?.['id']);
    expect(response.headers.get('location')).toBe(`${base}/fhir/ServiceRequest/${id}/_history/1`);
    expect(response.headers.get('etag')).toBe('W/"1"');
    expect(json).toMatchObject({ status: 'active', priority: 'stat', meta: { versionId: '1' } });
    const identifiers = json?.['identifier'] as Json[];
    expect(identifiers[0]).toMatchObject({ system: PLACER, type: { coding: [{ code: 'PLAC' }] } });
    const [row] = await outboxRow(id);
    expect(row).toMatchObject({
      topic: 'clinical.orders-stat.v1',
      message_key: 'MRN-API-ORD',
      payload: {
        destination: 'api-laboratory',
        lane: 'STAT',
        placerOrderNumber: identifiers[0]!['value'],
      },
    });
    expect(String(row!.headers['traceparent'])).toContain(traceId);
    expect(row!.headers[MessageHeaders.correlationId]).toBe('corr-api-1');
  });

  it('creates one order for concurrent conditional POSTs (one 201, the others 200)', async () => {
    const responses = await Promise.all(
      Array.from({ length: 5 }, () =>
        send('POST', '/fhir/ServiceRequest', labOrder('API-CONC-1'), {
          'If-None-Exist': `identifier=${PLACER}|API-CONC-1`,
        }),
      ),
    );
    expect(responses.map((r) => r.response.status).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(responses.map((r) => r.json?.['id'])).size).toBe(1);
    expect(await outboxRow(String(responses[0]!.json?.['id']))).toHaveLength(1);
  });

  it('answers 412 when If-None-Exist matches several resources', async () => {
    for (const id of ['api-visit-a', 'api-visit-b']) {
      await store.save(
        {
          resourceType: 'ServiceRequest',
          id,
          identifier: [{ system: 'urn:visit', value: 'V-9' }],
        } as ResourceBase,
        { source: 'urn:test' },
      );
    }
    const outcome = await refused(412, 'POST', '/fhir/ServiceRequest', labOrder(), {
      'If-None-Exist': 'identifier=urn:visit|V-9',
    });
    expect(outcome.issue[0]?.code).toBe('multiple-matches');
    const unsupported = await refused(400, 'POST', '/fhir/ServiceRequest', labOrder(), {
      'If-None-Exist': 'code=http://loinc.org|2345-7',
    });
    expect(unsupported.issue[0]).toMatchObject({
      code: 'not-supported',
      expression: ['If-None-Exist'],
    });
  });

  it('takes application/json too, for a medication order', async () => {
    const { response, json } = await send(
      'POST',
      '/fhir/MedicationRequest',
      {
        resourceType: 'MedicationRequest',
        status: 'active',
        intent: 'order',
        medicationCodeableConcept: {
          coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361' }],
        },
        subject: { reference: `Patient/${patientId}` },
      },
      { 'content-type': 'application/json; charset=utf-8' },
    );
    expect(response.status).toBe(201);
    expect((await outboxRow(String(json?.['id'])))[0]?.payload).toMatchObject({
      category: 'PHARMACY',
      destination: 'api-pharmacy',
    });
  });

  it('names each invalid element (400) and each broken rule (422)', async () => {
    const invalid = await refused(
      400,
      'POST',
      '/fhir/ServiceRequest',
      labOrder(undefined, { priority: 'soon', code: { coding: [{ system: 7, code: '2345-7' }] } }),
    );
    expect(invalid.issue.map((i) => [i.code, i.expression?.[0]])).toEqual([
      ['value', 'ServiceRequest.priority'],
      ['value', 'ServiceRequest.code.coding[0].system'],
      ['code-invalid', 'ServiceRequest.code.coding'],
    ]);
    const draft = await refused(
      422,
      'POST',
      '/fhir/ServiceRequest',
      labOrder(undefined, { status: 'draft' }),
    );
    expect(draft.issue[0]).toMatchObject({
      code: 'business-rule',
      expression: ['ServiceRequest.status'],
    });
    const nobody = await refused(
      422,
      'POST',
      '/fhir/ServiceRequest',
      labOrder(undefined, { subject: { reference: 'Patient/nobody' } }),
    );
    expect(nobody.issue[0]).toMatchObject({
      code: 'not-found',
      expression: ['ServiceRequest.subject'],
    });
    const unroutable = await refused(
      422,
      'POST',
      '/fhir/ServiceRequest',
      labOrder(undefined, { code: { coding: [{ system: 'http://loinc.org', code: '0000-0' }] } }),
    );
    expect(unroutable.issue[0]?.diagnostics).toMatch(
      /^no route for this order: no route for LABORATORY/,
    );
  });

  it('refuses bodies that are not JSON (400), too large (413) or of another media type (415)', async () => {
    for (const type of [FHIR_JSON, 'application/json']) {
      const broken = await refused(
        400,
        'POST',
        '/fhir/ServiceRequest',
        '{"resourceType": "Patient", "name": Synthetic',
        {
          'content-type': type,
        },
      );
      expect(broken.issue[0]?.code).toBe('structure');
      expect(broken.issue[0]?.diagnostics).toMatch(/^the request body is not valid JSON/);
      expect(broken.issue[0]?.diagnostics).not.toContain('Synthetic');
    }
    await refused(400, 'POST', '/fhir/Patient', '');
    const large = await refused(
      413,
      'POST',
      '/fhir/ServiceRequest',
      labOrder(undefined, { note: [{ text: 'x'.repeat(5000) }] }),
    );
    expect(large.issue[0]?.code).toBe('too-long');
    await refused(415, 'POST', '/fhir/ServiceRequest', 'resourceType=ServiceRequest', {
      'content-type': 'text/plain',
    });
    await refused(415, 'POST', '/fhir/ServiceRequest', labOrder(), {
      'content-type': 'application/fhir+json; charset=iso-8859-1',
    });
  });

  it('logs one line per refusal with elements and codes, never the content', async () => {
    await refused(400, 'POST', '/fhir/Patient', {
      resourceType: 'Patient',
      identifier: [{ value: 'MRN-SECRET-9' }],
      name: [{ family: 'Hidden' }],
    });
    const lines = captured.lines().filter((l) => l['msg'] === 'FHIR write refused');
    expect(lines.length).toBeGreaterThan(5);
    const last = lines.at(-1)!;
    expect(last).toMatchObject({
      interaction: 'create',
      status: 400,
      issues: ['Patient.identifier[0].system (required)'],
    });
    const everything = JSON.stringify(captured.lines());
    expect(everything).not.toContain('MRN-SECRET-9');
    expect(everything).not.toContain('Hidden');
    expect(everything).not.toContain('"name": Synthetic');
  });
});

describe('PUT /fhir/ServiceRequest/:id', () => {
  it('cancels an order once; a repeat answers the same version', async () => {
    const placed = await send('POST', '/fhir/ServiceRequest', labOrder('API-CANCEL-1'));
    const id = String(placed.json?.['id']);
    const { meta: _meta, ...body } = placed.json!;
    const cancel = { ...body, status: 'revoked' };
    const first = await send('PUT', `/fhir/ServiceRequest/${id}`, cancel, { 'If-Match': 'W/"1"' });
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get('etag')).toBe('W/"2"');
    expect(first.json).toMatchObject({ status: 'revoked', meta: { versionId: '2' } });
    const again = await send('PUT', `/fhir/ServiceRequest/${id}`, cancel);
    expect(again.response.status).toBe(200);
    expect(again.response.headers.get('etag')).toBe('W/"2"');
    const rows = await outboxRow(id, 'CANCEL');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.topic).toBe('clinical.orders.v1');
  });

  it('refuses changes, stale versions, unknown ids, mismatched ids and other types', async () => {
    const placed = await send('POST', '/fhir/ServiceRequest', labOrder('API-CHANGE-1'));
    const id = String(placed.json?.['id']);
    const { meta: _meta, ...body } = placed.json!;
    const changed = await refused(422, 'PUT', `/fhir/ServiceRequest/${id}`, {
      ...body,
      priority: 'stat',
    });
    expect(changed.issue[0]).toMatchObject({
      code: 'business-rule',
      expression: ['ServiceRequest.priority'],
    });
    const stale = await refused(
      412,
      'PUT',
      `/fhir/ServiceRequest/${id}`,
      { ...body, status: 'revoked' },
      { 'If-Match': 'W/"5"' },
    );
    expect(stale.issue[0]?.code).toBe('conflict');
    await refused(
      400,
      'PUT',
      `/fhir/ServiceRequest/${id}`,
      { ...body, status: 'revoked' },
      { 'If-Match': 'five' },
    );
    await refused(405, 'PUT', '/fhir/ServiceRequest/unknown-order', {
      ...body,
      id: 'unknown-order',
      status: 'revoked',
    });
    const mismatch = await refused(400, 'PUT', `/fhir/ServiceRequest/${id}`, {
      ...body,
      id: 'other',
      status: 'revoked',
    });
    expect(mismatch.issue[0]?.expression).toEqual(['ServiceRequest.id']);
    await refused(405, 'PUT', `/fhir/Patient/${patientId}`, patient('MRN-API-ORD'));
  });
});

describe('metadata and platform body parsing', () => {
  it('advertises create and update of orders, conditional create included', async () => {
    const { json } = await send('GET', '/fhir/metadata');
    const statement = json as unknown as CapabilityStatement;
    const sr = statement.rest[0]!.resource.find((r) => r.type === 'ServiceRequest')!;
    expect(sr.interaction.map((i) => i.code)).toEqual(
      expect.arrayContaining(['read', 'search-type', 'create', 'update']),
    );
    expect(sr.conditionalCreate).toBe(true);
    expect(sr.updateCreate).toBe(false);
  });

  it('works behind the platform JSON parser as well', async () => {
    const parsed = await startApp({ bodyParser: true });
    try {
      const response = await fetch(`${await parsed.getUrl()}/fhir/ServiceRequest`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(labOrder('API-PARSED-1')),
      });
      expect(response.status).toBe(201);
    } finally {
      await parsed.close();
    }
  });
});
