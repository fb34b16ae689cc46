/**
 * Orders against the real PostgreSQL of the stack, in a database of its own: placing an order
 * writes the resource, its index rows and its outbox event in one transaction; conditional
 * creates never duplicate, also when identical POSTs arrive at the same moment; refusals write
 * nothing; a cancellation writes a CANCEL event in the NEW's lane once; the outbox is read in
 * order and published by one lease holder at a time.
 */
import { MessageHeaders, type OrderEvent, Topics } from '@ancillary/contracts';
import { startTracing, getTracer, type TracingHandle } from '@ancillary/observability';
import { captureLogger, createScratchDatabase, type ScratchDatabase } from '@ancillary/testing';
import { context, trace } from '@opentelemetry/api';
import type { Pool } from 'pg';
import { FhirStore } from '../fhir.store';
import { parseSearchQuery } from '../search-query';
import {
  MultipleMatchesError,
  ResourceValidationError,
  UnknownResourceError,
  VersionConflictError,
} from './order.errors';
import { type OrderRouter, UnroutableOrderError } from './order-router';

const PLACER = 'urn:ancillary:placer-order';
const MRN_SYSTEM = 'urn:hospital:mrn';

/** Routes like the demo tables, but to destinations of this test only. */
const router: OrderRouter = {
  route(category, coding) {
    if (coding.code === '0000-0')
      throw new UnroutableOrderError(`no route for ${category} code 0000-0`);
    return { destination: `test-${category.toLowerCase()}`, facility: 'NWH-TEST' };
  },
  rule: (priority) =>
    priority === 'stat' || priority === 'asap'
      ? { lane: 'STAT', highPriorityResult: true }
      : { lane: 'ROUTINE', highPriorityResult: false },
};

let db: ScratchDatabase;
let pool: Pool;
let store: FhirStore;
let tracing: TracingHandle;
let patientId: string;
const captured = captureLogger('orders-int', 'debug');

beforeAll(async () => {
  tracing = startTracing({ serviceName: 'orders-int' });
  db = await createScratchDatabase();
  pool = db.pool(12);
  store = new FhirStore(pool, { logger: captured.logger });
  await store.migrate();
  const created = await store.createPatient(patient('MRN-ORD-1'));
  patientId = created.resource.id;
});

afterAll(async () => {
  await db.drop();
  await tracing.shutdown();
});

function patient(mrn: string): Record<string, unknown> {
  return {
    resourceType: 'Patient',
    identifier: [
      {
        system: MRN_SYSTEM,
        value: mrn,
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
      },
    ],
    name: [{ family: 'Synthetic', given: ['Sam'] }],
    gender: 'male',
    birthDate: '1985-06-15',
  };
}

function labOrder(
  placer?: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    resourceType: 'ServiceRequest',
    ...(placer ? { identifier: [{ system: PLACER, value: placer }] } : {}),
    status: 'active',
    intent: 'order',
    code: { coding: [{ system: 'http://loinc.org', code: '24323-8', display: 'CMP' }] },
    subject: { reference: `Patient/${patientId}` },
    authoredOn: '2026-04-01T08:00:00Z',
    ...overrides,
  };
}

interface OutboxRow {
  seq: string;
  event_id: string;
  topic: string;
  message_key: string;
  payload: OrderEvent;
  headers: Record<string, string>;
}

async function outboxOf(resourceId: string): Promise<OutboxRow[]> {
  const { rows } = await pool.query<OutboxRow>(
    `SELECT seq::text AS seq, event_id, topic, message_key, payload, headers FROM fhir.outbox
     WHERE payload->>'resourceId' = $1 ORDER BY seq`,
    [resourceId],
  );
  return rows;
}

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, values);
  return rows[0]!.n;
}

async function refusal(promise: Promise<unknown>): Promise<ResourceValidationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ResourceValidationError);
  return error as ResourceValidationError;
}

describe('placeOrder', () => {
  it('stores the order, its index rows and its NEW event in the outbox, with the trace context', async () => {
    const span = getTracer('orders-int').startSpan('POST /fhir/ServiceRequest');
    const receipt = await context.with(trace.setSpan(context.active(), span), () =>
      store.placeOrder('ServiceRequest', labOrder(undefined, { priority: 'stat' }), {
        router,
        headers: { [MessageHeaders.correlationId]: 'corr-1' },
      }),
    );
    span.end();
    expect(receipt.outcome).toBe('CREATED');
    expect(receipt.topic).toBe(Topics.clinicalOrdersStat.name);
    const id = receipt.resource.id;
    const read = await store.read('ServiceRequest', id);
    expect(read).toMatchObject({ versionId: 1, resource: { status: 'active', priority: 'stat' } });
    const placer = receipt.event!.placerOrderNumber;
    expect(placer).toMatch(/^ORD[0-9A-Z]{17}$/);
    const found = await store.search(
      parseSearchQuery('ServiceRequest', [['identifier', `${PLACER}|${placer}`]]),
    );
    expect(found.matches.map((m) => m.id)).toEqual([id]);

    const [row, ...more] = await outboxOf(id);
    expect(more).toHaveLength(0);
    expect(row).toMatchObject({
      event_id: `ServiceRequest/${id}/_history/1`,
      topic: 'clinical.orders-stat.v1',
      message_key: 'MRN-ORD-1',
      payload: {
        action: 'NEW',
        category: 'LABORATORY',
        destination: 'test-laboratory',
        lane: 'STAT',
        priority: 'stat',
        patientId,
        placerOrderNumber: placer,
        orderedAt: Date.parse('2026-04-01T08:00:00Z'),
        patient: { identifiers: [{ value: 'MRN-ORD-1', system: MRN_SYSTEM, type: 'MR' }] },
      },
    });
    expect(typeof row!.payload.publishedAt).toBe('number');
    expect(row!.headers[MessageHeaders.correlationId]).toBe('corr-1');
    expect(row!.headers['traceparent']).toContain(span.spanContext().traceId);
  });

  it('creates one order for identical conditional POSTs arriving together', async () => {
    const body = labOrder('EHR-CONC-1');
    const receipts = await Promise.all(
      Array.from({ length: 6 }, () =>
        store.placeOrder('ServiceRequest', body, {
          router,
          ifNoneExist: { system: PLACER, value: 'EHR-CONC-1' },
        }),
      ),
    );
    expect(receipts.map((r) => r.outcome).sort()).toEqual([
      'CREATED',
      'EXISTING',
      'EXISTING',
      'EXISTING',
      'EXISTING',
      'EXISTING',
    ]);
    expect(new Set(receipts.map((r) => r.resource.id)).size).toBe(1);
    expect(
      await count(
        `fhir.search_token WHERE resource_type = 'ServiceRequest' AND param = 'identifier' AND code = $1`,
        ['EHR-CONC-1'],
      ),
    ).toBe(1);
    expect(await outboxOf(receipts[0]!.resource.id)).toHaveLength(1);
  });

  it('refuses a second order with the same placer number when the POST is not conditional', async () => {
    const results = await Promise.allSettled([
      store.placeOrder('ServiceRequest', labOrder('EHR-DUP-1'), { router }),
      store.placeOrder('ServiceRequest', labOrder('EHR-DUP-1'), { router }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected');
    expect((rejected as PromiseRejectedResult).reason).toBeInstanceOf(ResourceValidationError);
    const error = (rejected as PromiseRejectedResult).reason as ResourceValidationError;
    expect(error.status).toBe(422);
    expect(error.issues[0]).toMatchObject({
      code: 'duplicate',
      expression: 'ServiceRequest.identifier',
    });
  });

  it('answers several matches of If-None-Exist with MultipleMatchesError', async () => {
    for (const id of ['visit-a', 'visit-b']) {
      await store.save(
        {
          resourceType: 'ServiceRequest',
          id,
          identifier: [{ system: 'urn:visit', value: 'V-1' }],
          status: 'active',
          intent: 'order',
          subject: { reference: `Patient/${patientId}` },
        } as never,
        { source: 'urn:test' },
      );
    }
    await expect(
      store.placeOrder('ServiceRequest', labOrder(), {
        router,
        ifNoneExist: { system: 'urn:visit', value: 'V-1' },
      }),
    ).rejects.toBeInstanceOf(MultipleMatchesError);
  });

  it('refuses unknown patients, unroutable codes and invalid orders, writing nothing', async () => {
    const before = await count('fhir.outbox');
    const versions = await count('fhir.resource_history');
    const unknown = await refusal(
      store.placeOrder(
        'ServiceRequest',
        labOrder(undefined, { subject: { reference: 'Patient/nobody' } }),
        { router },
      ),
    );
    expect(unknown.status).toBe(422);
    expect(unknown.issues[0]).toMatchObject({
      code: 'not-found',
      expression: 'ServiceRequest.subject',
    });
    const unroutable = await refusal(
      store.placeOrder(
        'ServiceRequest',
        labOrder(undefined, { code: { coding: [{ system: 'http://loinc.org', code: '0000-0' }] } }),
        { router },
      ),
    );
    expect(unroutable.status).toBe(422);
    expect(unroutable.issues[0]).toMatchObject({
      code: 'business-rule',
      expression: 'ServiceRequest.code',
    });
    expect(unroutable.issues[0]!.diagnostics).toContain('no route');
    const invalid = await refusal(
      store.placeOrder('ServiceRequest', labOrder(undefined, { status: 'draft' }), { router }),
    );
    expect(invalid.status).toBe(422);
    expect(await count('fhir.outbox')).toBe(before);
    expect(await count('fhir.resource_history')).toBe(versions);
    expect(
      captured
        .lines()
        .some(
          (l) =>
            l['msg'] === 'resource refused' &&
            (l['issues'] as string[] | undefined)?.includes(
              'ServiceRequest.status (business-rule)',
            ),
        ),
    ).toBe(true);
  });

  it('places a medication order on the pharmacy route', async () => {
    const receipt = await store.placeOrder(
      'MedicationRequest',
      {
        resourceType: 'MedicationRequest',
        status: 'active',
        intent: 'order',
        medicationCodeableConcept: {
          coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '861007' }],
        },
        subject: { reference: `Patient/${patientId}` },
        dispenseRequest: { quantity: { value: 60, unit: 'tablet' }, numberOfRepeatsAllowed: 1 },
      },
      { router },
    );
    expect(receipt.event).toMatchObject({
      category: 'PHARMACY',
      destination: 'test-pharmacy',
      lane: 'ROUTINE',
      medication: { quantityValue: 60, refills: 1 },
    });
    expect(receipt.topic).toBe('clinical.orders.v1');
  });
});

describe('createPatient', () => {
  it('creates once, answers a conditional repeat with the patient, refuses a plain duplicate', async () => {
    const first = await store.createPatient(patient('MRN-PAT-1'), {
      ifNoneExist: { system: MRN_SYSTEM, value: 'MRN-PAT-1' },
    });
    const again = await Promise.all([
      store.createPatient(patient('MRN-PAT-1'), {
        ifNoneExist: { system: MRN_SYSTEM, value: 'MRN-PAT-1' },
      }),
      store.createPatient(patient('MRN-PAT-1'), {
        ifNoneExist: { system: MRN_SYSTEM, value: 'MRN-PAT-1' },
      }),
    ]);
    expect(first.outcome).toBe('CREATED');
    expect(again.map((r) => [r.outcome, r.resource.id])).toEqual([
      ['EXISTING', first.resource.id],
      ['EXISTING', first.resource.id],
    ]);
    const duplicate = await refusal(store.createPatient(patient('MRN-PAT-1')));
    expect(duplicate.issues[0]).toMatchObject({
      code: 'duplicate',
      expression: 'Patient.identifier',
    });
  });
});

describe('updateOrder', () => {
  it('cancels once, with a CANCEL event in the lane, key and destination of the NEW', async () => {
    const placed = await store.placeOrder(
      'ServiceRequest',
      labOrder('EHR-CANCEL-1', { priority: 'asap' }),
      { router },
    );
    const id = placed.resource.id;
    const current = (await store.read('ServiceRequest', id))!.resource;
    const { meta: _meta, ...body } = current;
    const cancel = { ...body, status: 'revoked' };
    const receipt = await store.updateOrder('ServiceRequest', id, cancel, { router, ifMatch: 1 });
    expect(receipt.outcome).toBe('UPDATED');
    expect(receipt.resource.versionId).toBe(2);
    expect(receipt.event).toMatchObject({
      eventId: `ServiceRequest/${id}/_history/2`,
      action: 'CANCEL',
      lane: 'STAT',
      destination: 'test-laboratory',
      placerOrderNumber: 'EHR-CANCEL-1',
    });
    const again = await store.updateOrder('ServiceRequest', id, cancel, { router });
    expect(again.outcome).toBe('UNCHANGED');
    expect(again.resource.versionId).toBe(2);
    const rows = await outboxOf(id);
    expect(rows.map((r) => [r.payload.action, r.topic, r.message_key])).toEqual([
      ['NEW', 'clinical.orders-stat.v1', 'MRN-ORD-1'],
      ['CANCEL', 'clinical.orders-stat.v1', 'MRN-ORD-1'],
    ]);
    expect((await store.read('ServiceRequest', id))?.resource['status']).toBe('revoked');
    // Once revoked, never active again.
    const back = await refusal(
      store.updateOrder('ServiceRequest', id, { ...body, status: 'active' }, { router }),
    );
    expect(back.status).toBe(422);
  });

  it('refuses other changes, stale versions and unknown orders', async () => {
    const placed = await store.placeOrder('ServiceRequest', labOrder('EHR-CHANGE-1'), { router });
    const id = placed.resource.id;
    const { meta: _meta, ...body } = (await store.read('ServiceRequest', id))!.resource;
    const changed = await refusal(
      store.updateOrder(
        'ServiceRequest',
        id,
        {
          ...body,
          status: 'revoked',
          code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
        },
        { router },
      ),
    );
    expect(changed.issues[0]).toMatchObject({
      code: 'business-rule',
      expression: 'ServiceRequest.code',
    });
    expect(changed.issues[0]!.diagnostics).toContain('cancel it');
    const completion = await refusal(
      store.updateOrder('ServiceRequest', id, { ...body, status: 'completed' }, { router }),
    );
    expect(completion.issues[0]!.expression).toBe('ServiceRequest.status');
    await expect(
      store.updateOrder(
        'ServiceRequest',
        id,
        { ...body, status: 'revoked' },
        { router, ifMatch: 7 },
      ),
    ).rejects.toBeInstanceOf(VersionConflictError);
    await expect(
      store.updateOrder(
        'ServiceRequest',
        'no-such-order',
        { ...body, id: 'no-such-order', status: 'revoked' },
        { router },
      ),
    ).rejects.toBeInstanceOf(UnknownResourceError);
    expect(await outboxOf(id)).toHaveLength(1);
  });
});

describe('outbox', () => {
  it('hands out unpublished rows in seq order and counts what is pending', async () => {
    const pending = await store.outboxPending();
    expect(pending).toBeGreaterThan(0);
    const rows = await store.claimOutbox(1000);
    expect(rows).toHaveLength(pending);
    const seqs = rows.map((r) => BigInt(r.seq));
    expect([...seqs].sort((a, b) => (a < b ? -1 : 1))).toEqual(seqs);
    await store.markOutboxPublished(rows.slice(0, 2).map((r) => r.seq));
    expect(await store.outboxPending()).toBe(pending - 2);
    expect((await store.claimOutbox(1))[0]?.seq).toBe(rows[2]?.seq);
  });

  it('lets one lease holder publish at a time', async () => {
    const first = await store.acquireOutboxLease();
    expect(first?.held).toBe(true);
    expect(await store.acquireOutboxLease()).toBeUndefined();
    const claimed = await first!.claim(2);
    await first!.markPublished(claimed.map((r) => r.seq));
    await first!.release();
    expect(first!.held).toBe(false);
    const second = await store.acquireOutboxLease();
    expect(second).toBeDefined();
    await second!.release();
  });

  it('tells listeners about each commit that wrote events', async () => {
    const seen: OrderEvent[] = [];
    const stop = store.onOutboxCommitted((events) => seen.push(...events));
    const receipt = await store.placeOrder('ServiceRequest', labOrder('EHR-LISTEN-1'), { router });
    await store.placeOrder('ServiceRequest', labOrder('EHR-LISTEN-1'), {
      router,
      ifNoneExist: { system: PLACER, value: 'EHR-LISTEN-1' },
    });
    stop();
    expect(seen.map((e) => e.eventId)).toEqual([
      `ServiceRequest/${receipt.resource.id}/_history/1`,
    ]);
  });
});
