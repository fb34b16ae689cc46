/**
 * The ehr-writer's order flow against the real broker, registry and PostgreSQL: an order POSTed
 * to the FHIR API comes out as an OrderEvent on clinical.orders.v1 (routine) or
 * clinical.orders-stat.v1 (STAT), routed by the terminology tables, keyed by the patient's MRN
 * and carrying the POST's trace; its cancellation follows in the same lane; an order no route
 * takes is refused with 422 and sends nothing. The service runs on a database of its own and a
 * copy of the terminology whose routes name destinations of this run only, so the records of
 * this run are told apart on the shared topics.
 */
import {
  MessageHeaders,
  type OrderEvent,
  OrderEventContract,
  Topics,
  topicCatalogue,
} from '@ancillary/contracts';
import { Messaging, provisionContracts } from '@ancillary/messaging-kafka';
import { startTracing, type TracingHandle } from '@ancillary/observability';
import { DEFAULT_TERMINOLOGY_DIR } from '@ancillary/terminology';
import {
  captureLogger,
  createScratchDatabase,
  readTopic,
  type ScratchDatabase,
  testStack,
  uniqueName,
  waitFor,
} from '@ancillary/testing';
import type { KafkaMessage } from 'kafkajs';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EhrWriterHandle, startEhrWriter } from './ehr-writer';

const stack = testStack();
const { logger } = captureLogger('ehr-writer-int', 'warn');
const run = uniqueName('ehr')
  .toLowerCase()
  .replace(/[^a-z0-9]/g, '');
const LIS = `lis-${run}`;
const RIS = `ris-${run}`;
const MRN = uniqueName('MRN').toUpperCase();
const MRN_SYSTEM = 'urn:hospital:mrn';
const PLACER = 'urn:ancillary:placer-order';

let db: ScratchDatabase;
let terminologyDir: string;
let tracing: TracingHandle;
let messaging: Messaging;
let ehrWriter: EhrWriterHandle;
let patientId: string;

/**
 * The shipped tables with this run's destinations: glucose and CMP to this run's LIS (no
 * wildcard, so another LOINC has no route), every CPT code to this run's RIS.
 */
function writeTerminology(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ehr-writer-terminology-'));
  cpSync(DEFAULT_TERMINOLOGY_DIR, dir, { recursive: true });
  const routes = readFileSync(join(dir, 'order-routes.csv'), 'utf8').split('\n');
  const header = routes[0] ?? '';
  writeFileSync(
    join(dir, 'order-routes.csv'),
    [
      header,
      `LABORATORY,http://loinc.org,2345-7,${LIS},NWH-LAB,Glucose to this run's LIS`,
      `LABORATORY,http://loinc.org,24323-8,${LIS},NWH-LAB,CMP to this run's LIS`,
      `IMAGING,http://www.ama-assn.org/go/cpt,*,${RIS},NWH-RAD,Imaging to this run's RIS`,
      '',
    ].join('\n'),
  );
  return dir;
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${ehrWriter.fhirBaseUrl}/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

function serviceRequest(code: { system: string; code: string }, priority: string, placer: string) {
  return {
    resourceType: 'ServiceRequest',
    identifier: [{ system: PLACER, value: placer }],
    status: 'active',
    intent: 'order',
    priority,
    code: { coding: [code] },
    subject: { reference: `Patient/${patientId}` },
    requester: { display: 'Dana Doctor' },
  };
}

/** This run's OrderEvents on a topic (its patient's key), decoded, once `expected` are there. */
async function ordersOn(topic: string, expected: number) {
  const ours = (m: KafkaMessage) => m.key?.toString() === MRN;
  const records = (
    await readTopic(messaging.kafka, topic, {
      until: (all) => all.filter(ours).length >= expected,
      description: `${expected} order event(s) keyed ${MRN} on ${topic}`,
      timeoutMs: 60_000,
    })
  ).filter(ours);
  return Promise.all(
    records.map(async (message) => ({
      message,
      event: await messaging.codec.decode<OrderEvent>(OrderEventContract, message.value),
    })),
  );
}

beforeAll(async () => {
  tracing = startTracing({ serviceName: 'ehr-writer-int' });
  messaging = new Messaging(
    {
      service: 'ehr-writer-int-client',
      brokers: stack.kafkaBrokers,
      registryUrl: stack.registryUrl,
    },
    logger,
  );
  // Topics and subjects exist before services start, as provisioning does in a deployment.
  await provisionContracts(messaging.kafka, messaging.codec, topicCatalogue, logger);
  await messaging.connect();
  db = await createScratchDatabase();
  terminologyDir = writeTerminology();
  ehrWriter = await startEhrWriter(
    {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      DATABASE_URL: db.url,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      CONSUMER_GROUP: `ehr-writer-${run}`,
      CONSUMER_START: 'latest',
      TERMINOLOGY_DIR: terminologyDir,
      TERMINOLOGY_WATCH: 'false',
      OUTBOX_POLL_INTERVAL_MS: '200',
    },
    { logger, shutdownHooks: false },
  );
  const patient = await post(
    'Patient',
    {
      resourceType: 'Patient',
      identifier: [{ system: MRN_SYSTEM, value: MRN, type: { coding: [{ code: 'MR' }] } }],
      name: [{ family: 'Synthetic', given: ['Robin'] }],
      gender: 'female',
      birthDate: '1978-11-02',
    },
    { 'If-None-Exist': `identifier=${MRN_SYSTEM}|${MRN}` },
  );
  expect(patient.status).toBe(201);
  patientId = String(patient.json['id']);
});

afterAll(async () => {
  await (ehrWriter as EhrWriterHandle | undefined)?.close();
  await (messaging as Messaging | undefined)?.close();
  await (db as ScratchDatabase | undefined)?.drop();
  rmSync(terminologyDir, { force: true, recursive: true });
  await tracing.shutdown();
});

describe('orders from the FHIR API to Kafka', () => {
  it('publishes a routine lab order on clinical.orders.v1, routed by the tables, in the POST trace', async () => {
    const traceId = 'a3ce929d0e0e47364bf92f3577b34da6';
    const placed = await post(
      'ServiceRequest',
      serviceRequest({ system: 'http://loinc.org', code: '2345-7' }, 'routine', `P-${run}-1`),
      { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    );
    expect(placed.status).toBe(201);
    const id = String(placed.json['id']);
    const [record] = await ordersOn(Topics.clinicalOrders.name, 1);
    expect(record!.event).toMatchObject({
      eventId: `ServiceRequest/${id}/_history/1`,
      action: 'NEW',
      category: 'LABORATORY',
      destination: LIS,
      lane: 'ROUTINE',
      priority: 'routine',
      placerOrderNumber: `P-${run}-1`,
      patientId,
      patient: {
        identifiers: [{ value: MRN, system: MRN_SYSTEM, type: 'MR' }],
        familyName: 'Synthetic',
      },
      code: { system: 'http://loinc.org', code: '2345-7' },
      requester: { display: 'Dana Doctor' },
    });
    const headers = record!.message.headers ?? {};
    expect(headers['traceparent']?.toString()).toContain(traceId);
    expect(headers[MessageHeaders.producer]?.toString()).toBe('ehr-writer');
    expect(headers[MessageHeaders.correlationId]?.toString()).toBeTruthy();

    // The cancellation follows in the same lane, with the same key.
    const current = (await (
      await fetch(`${ehrWriter.fhirBaseUrl}/ServiceRequest/${id}`)
    ).json()) as Record<string, unknown>;
    const cancelled = await fetch(`${ehrWriter.fhirBaseUrl}/ServiceRequest/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json', 'if-match': 'W/"1"' },
      body: JSON.stringify({ ...current, status: 'revoked' }),
    });
    expect(cancelled.status).toBe(200);
    const both = await ordersOn(Topics.clinicalOrders.name, 2);
    expect(both.map((r) => [r.event.action, r.event.eventId])).toEqual([
      ['NEW', `ServiceRequest/${id}/_history/1`],
      ['CANCEL', `ServiceRequest/${id}/_history/2`],
    ]);
  });

  it('publishes a STAT imaging order on clinical.orders-stat.v1', async () => {
    const placed = await post(
      'ServiceRequest',
      serviceRequest(
        { system: 'http://www.ama-assn.org/go/cpt', code: '71046' },
        'stat',
        `P-${run}-2`,
      ),
    );
    expect(placed.status).toBe(201);
    const [record] = await ordersOn(Topics.clinicalOrdersStat.name, 1);
    expect(record!.event).toMatchObject({
      resourceId: placed.json['id'],
      category: 'IMAGING',
      destination: RIS,
      lane: 'STAT',
      priority: 'stat',
    });
  });

  it('refuses an order no route takes, and publishes everything it stored', async () => {
    const refused = await post(
      'ServiceRequest',
      serviceRequest({ system: 'http://loinc.org', code: '718-7' }, 'routine', `P-${run}-3`),
    );
    expect(refused.status).toBe(422);
    const issue = (refused.json['issue'] as Record<string, unknown>[])[0];
    expect(issue).toMatchObject({ code: 'business-rule', expression: ['ServiceRequest.code'] });
    expect(String(issue?.['diagnostics'])).toContain('no route for LABORATORY code 718-7');
    const metrics = await waitFor(
      async () => {
        const text = await (await fetch(`${ehrWriter.url}/metrics`)).text();
        return /^ehr_writer_outbox_pending 0$/m.test(text) ? text : undefined;
      },
      { description: 'the outbox to be empty', timeoutMs: 30_000 },
    );
    expect(metrics).toMatch(
      /^ehr_writer_orders_placed_total\{category="LABORATORY",lane="ROUTINE"\} [1-9]/m,
    );
    expect(metrics).toMatch(
      /^ehr_writer_orders_placed_total\{category="IMAGING",lane="STAT"\} [1-9]/m,
    );
    expect(metrics).toMatch(/^ehr_writer_outbox_relay_active 1$/m);
  });

  it('stops at an event it cannot publish and never lets a later one overtake it', async () => {
    const pool = db.pool(1);
    // An event for a topic the catalogue does not know: its publish fails until it is removed.
    await pool.query(
      `INSERT INTO fhir.outbox (event_id, topic, message_key, payload)
       VALUES ($1, 'nowhere.events.v1', $2, '{}'::jsonb)`,
      [`stuck-${run}`, MRN],
    );
    const placed = await post(
      'ServiceRequest',
      serviceRequest({ system: 'http://loinc.org', code: '24323-8' }, 'routine', `P-${run}-4`),
    );
    expect(placed.status).toBe(201);
    const eventId = `ServiceRequest/${String(placed.json['id'])}/_history/1`;
    await waitFor(
      async () => {
        const text = await (await fetch(`${ehrWriter.url}/metrics`)).text();
        return /^ehr_writer_outbox_publish_failures_total\{topic="nowhere.events.v1"\} [1-9]/m.test(
          text,
        );
      },
      { description: 'a failed publish of the stuck event', timeoutMs: 30_000 },
    );
    const waiting = await pool.query<{ published: boolean }>(
      'SELECT published_at IS NOT NULL AS published FROM fhir.outbox WHERE event_id = $1',
      [eventId],
    );
    expect(waiting.rows).toEqual([{ published: false }]);
    await pool.query('DELETE FROM fhir.outbox WHERE event_id = $1', [`stuck-${run}`]);
    const records = await ordersOn(Topics.clinicalOrders.name, 3);
    expect(records.map((r) => r.event.eventId)).toContain(eventId);
  });
});
