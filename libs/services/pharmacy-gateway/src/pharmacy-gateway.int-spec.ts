/**
 * The pharmacy gateway as apps/pharmacy-gateway starts it, against the real broker, registry
 * and PostgreSQL, on inbound topics of its own: an RDS^O13 over MLLP is acknowledged AA once its
 * envelope is stored; a FHIR MedicationDispense POST is answered 202 once its RawFhirEnvelope is
 * stored, 4xx with an OperationOutcome when it can never be, and 503 when Kafka cannot take it;
 * a medication order for this connection leaves as RDE^O11 with the formulary's NDC. The order
 * topics are the catalogue's: this test's orders carry its own destination, and its consumer
 * groups start at the end.
 */
import {
  MessageHeaders,
  OrderStatusChangedContract,
  RawFhirEnvelopeContract,
  RawHl7EnvelopeContract,
  Topics,
  type OrderEvent,
  type OrderStatusChanged,
  type RawFhirEnvelope,
  type RawHl7Envelope,
  type TopicDefinition,
} from '@ancillary/contracts';
import type { Hl7Message } from '@ancillary/hl7-core';
import { MllpClient, MllpNackError, MllpResult, MllpServer } from '@ancillary/hl7-mllp';
import {
  deleteTopics,
  Messaging,
  newMessageContext,
  provisionContracts,
} from '@ancillary/messaging-kafka';
import {
  captureLogger,
  createScratchDatabase,
  readTopic,
  testEnvironment,
  testStack,
  testTopic,
  uniqueName,
  waitFor,
  type ScratchDatabase,
} from '@ancillary/testing';
import type { OperationOutcome } from './fhir-inbound/operation-outcome';
import { startPharmacyGateway, type PharmacyGatewayHandle } from './pharmacy-gateway';

const stack = testStack();
const hl7Inbound = testTopic(RawHl7EnvelopeContract);
const fhirInbound = testTopic(RawFhirEnvelopeContract);
/** Provisioned, then its Kafka topic deleted: the registry knows it, the broker does not. */
const lost = testTopic(RawFhirEnvelopeContract);
const sourceSystem = uniqueName('rx')
  .toLowerCase()
  .replace(/[^a-z0-9-]/g, '');
const { logger, lines } = captureLogger('pharmacy-gateway-int', 'warn');
let messaging: Messaging;
let scratch: ScratchDatabase;
let gateway: PharmacyGatewayHandle;
let client: MllpClient;
/** The pharmacy's order listener: answers AA to every order and keeps it. */
let pharmacy: MllpServer;
const received: Hl7Message[] = [];

function start(topics: { fhirInbound: TopicDefinition }, overrides: Record<string, string> = {}) {
  return startPharmacyGateway(
    testEnvironment({
      SERVICE_NAME: sourceSystem, // the order consumer groups' prefix
      SOURCE_SYSTEM: sourceSystem,
      MLLP_PORT: '0',
      DATABASE_URL: scratch.url,
      FHIR_MAX_BODY_BYTES: '4096',
      ORDERS_MLLP_PORT: String(pharmacy.address()!.port),
      CONSUMER_START: 'latest',
      TERMINOLOGY_WATCH: 'false',
      ...overrides,
    }),
    { logger, shutdownHooks: false, topics: { hl7Inbound, ...topics } },
  );
}

/** A dispense as SIMRX sends it (v2.5.1). */
function rds(controlId: string, type = 'RDS^O13^RDS_O13'): string {
  return [
    `MSH|^~\\&|SIMRX|NWH-RX|ANCILLARY-HUB|NWH|20261126140000||${type}|${controlId}|P|2.5.1`,
    'PID|1||MRN-RX-3^^^NWH^MR||Poe^Sam||19591020|F',
    'ORC|RE|PL-RX-9^ANCILLARY-HUB|FL-RX-9^SIMRX||CM',
    'RXD|1|00093-7180-56^Metformin 500 mg tablet^NDC|20261126135500|60|TAB^tablet^HL70292||RX-44120||||30',
  ].join('\r');
}

function dispense(identifier = uniqueName('D')): Record<string, unknown> {
  return {
    resourceType: 'MedicationDispense',
    identifier: [{ system: 'urn:pharmacy-platform:dispense', value: identifier }],
    status: 'completed',
    subject: { identifier: { system: 'urn:ancillary:mrn', value: 'MRN-RX-4' } },
    medicationCodeableConcept: {
      coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '00093-7180-56' }],
    },
    quantity: { value: 60, unit: 'tablet' },
    daysSupply: { value: 30, unit: 'd' },
  };
}

async function post(
  base: string,
  body: string,
  contentType = 'application/fhir+json',
): Promise<{ status: number; type: string; outcome: OperationOutcome; headers: Headers }> {
  const response = await fetch(`${base}/fhir/MedicationDispense`, {
    method: 'POST',
    headers: { 'Content-Type': contentType },
    body,
    signal: AbortSignal.timeout(20_000),
  });
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    outcome: (await response.json()) as OperationOutcome,
    headers: response.headers,
  };
}

beforeAll(async () => {
  messaging = new Messaging(
    {
      service: 'pharmacy-gateway-int',
      brokers: stack.kafkaBrokers,
      registryUrl: stack.registryUrl,
    },
    logger,
  );
  await messaging.connect();
  await provisionContracts(
    messaging.kafka,
    messaging.codec,
    [
      hl7Inbound,
      fhirInbound,
      lost,
      Topics.clinicalOrders,
      Topics.clinicalOrdersStat,
      Topics.clinicalOrderStatus,
    ],
    logger,
  );
  const admin = messaging.kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [lost.name] });
  await admin.disconnect();
  scratch = await createScratchDatabase();
  pharmacy = new MllpServer({
    host: '127.0.0.1',
    port: 0,
    handler: (message) => {
      received.push(message);
      return Promise.resolve(MllpResult.accept());
    },
    logger,
  });
  await pharmacy.listen();
  gateway = await start({ fhirInbound });
  // Consumers that start at the end must have joined before an order is published.
  await waitFor(async () => (await fetch(`${gateway.url}/ready`)).ok, {
    timeoutMs: 60_000,
    description: 'the gateway ready (order consumer groups joined)',
  });
  client = new MllpClient({
    host: '127.0.0.1',
    port: gateway.mllpPort,
    ackTimeoutMs: 15_000,
    retry: { maxAttempts: 1 },
  });
});

afterAll(async () => {
  await client.close();
  await gateway.close();
  await pharmacy.close();
  await scratch.drop();
  await deleteTopics(messaging.kafka, stack.registryUrl, [hl7Inbound, fhirInbound, lost]);
  await messaging.close();
});

describe('pharmacy-gateway (real Kafka, registry and PostgreSQL)', () => {
  it('answers AA to an RDS^O13 once its envelope is on the topic', async () => {
    const controlId = uniqueName('RX');
    expect((await client.send(rds(controlId))).code).toBe('AA');
    const [record] = await readTopic(messaging.kafka, hl7Inbound.name, {
      until: (records) => records.length >= 1,
      description: 'the dispense envelope',
    });
    expect(record!.key!.toString()).toBe('MRN-RX-3');
    const envelope = await messaging.codec.decode<RawHl7Envelope>(
      RawHl7EnvelopeContract,
      record!.value,
    );
    expect(envelope).toMatchObject({
      sourceSystem,
      messageControlId: controlId,
      messageType: 'RDS^O13',
      messageStructure: 'RDS_O13',
      sendingApplication: 'SIMRX',
    });
    expect(envelope.payload.toString('utf8')).toBe(rds(controlId));
  });

  it('answers AR with ERR 200 to a message type the pharmacy connection does not take', async () => {
    const nack = (await client
      .send(rds(uniqueName('RX'), 'ORU^R01^ORU_R01'))
      .catch((e: unknown) => e)) as MllpNackError;
    expect(nack).toBeInstanceOf(MllpNackError);
    expect(nack.ackCode).toBe('AR');
    expect(nack.ack.get('ERR-3')).toBe('200');
    expect(nack.ack.get('ERR-8')).toMatch(
      /ORU\^R01 is not accepted on this connection \(accepted: RDS\^O13, RRE\^O12, ORR\^O02, ORM\^O01\)/,
    );
  });

  it('answers a FHIR MedicationDispense 202 once its RawFhirEnvelope is on the topic', async () => {
    const identifier = uniqueName('D');
    const text = JSON.stringify(dispense(identifier), null, 1);
    const answer = await post(gateway.url, text, 'application/fhir+json; charset=utf-8');
    expect(answer.status).toBe(202);
    expect(answer.type).toMatch(/^application\/fhir\+json/);
    expect(answer.outcome.issue[0]).toMatchObject({
      severity: 'information',
      code: 'informational',
    });
    const envelopeId = answer.headers.get('x-envelope-id');
    expect(answer.outcome.issue[0]?.diagnostics).toContain(envelopeId);

    // Plain application/json is taken too.
    expect((await post(gateway.url, JSON.stringify(dispense()), 'application/json')).status).toBe(
      202,
    );

    const records = await readTopic(messaging.kafka, fhirInbound.name, {
      until: (read) => read.length >= 2,
      description: 'two FHIR envelopes',
    });
    const first = records[0]!;
    expect(first.key!.toString()).toBe('MRN-RX-4');
    expect(first.headers![MessageHeaders.sourceSystem]!.toString()).toBe(sourceSystem);
    const envelope = await messaging.codec.decode<RawFhirEnvelope>(
      RawFhirEnvelopeContract,
      first.value,
    );
    expect(envelope).toMatchObject({
      envelopeId,
      sourceSystem,
      resourceType: 'MedicationDispense',
      interaction: 'create',
      idempotencyKey: `urn:pharmacy-platform:dispense|${identifier}`,
      payload: text,
    });
    expect(envelope.peerAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it.each([
    [
      'invalid JSON',
      '{"resourceType":"MedicationDispense",',
      'application/fhir+json',
      400,
      /not valid JSON/,
    ],
    [
      'another resource type',
      JSON.stringify({ ...dispense(), resourceType: 'MedicationRequest' }),
      'application/fhir+json',
      400,
      /resourceType is MedicationRequest/,
    ],
    [
      'no identifier',
      JSON.stringify({ ...dispense(), identifier: [] }),
      'application/json',
      400,
      /MedicationDispense\.identifier with a value is required/,
    ],
    ['XML', '<MedicationDispense/>', 'application/fhir+xml', 415, /not supported/],
    [
      'a body over the limit',
      JSON.stringify({ ...dispense(), note: 'x'.repeat(5_000) }),
      'application/json',
      413,
      /larger than 4096 bytes/,
    ],
  ])(
    'refuses %s with an OperationOutcome naming the problem',
    async (_what, body, type, status, text) => {
      const answer = await post(gateway.url, body, type);
      expect(answer.status).toBe(status);
      expect(answer.type).toMatch(/^application\/fhir\+json/);
      expect(answer.outcome.resourceType).toBe('OperationOutcome');
      expect(answer.outcome.issue[0]?.severity).toBe('error');
      expect(answer.outcome.issue[0]?.diagnostics).toMatch(text);
    },
  );

  it('answers 503 with Retry-After when Kafka cannot store the resource, so the pharmacy resends', async () => {
    const broken = await start(
      { fhirInbound: lost },
      {
        KAFKA_PUBLISH_TIMEOUT_MS: '2000',
        SOURCE_SYSTEM: `${sourceSystem}-b`,
        ORDERS_ENABLED: 'false',
      },
    );
    try {
      const answer = await post(broken.url, JSON.stringify(dispense()));
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('5');
      expect(answer.outcome.issue[0]).toMatchObject({ severity: 'error', code: 'transient' });
      expect(JSON.stringify(lines())).toMatch(/could not store the FHIR resource on Kafka/);
      expect(JSON.stringify(lines())).not.toMatch(/MRN-RX-4/);
    } finally {
      await broken.close();
    }
  });

  it('sends a medication order for its pharmacy as RDE^O11 with the formulary NDC, and reports it ACCEPTED', async () => {
    const mrn = uniqueName('MRN-RX');
    const id = uniqueName('mr');
    const order = medicationOrder(id, mrn);
    await messaging.producer.publish<OrderEvent>(Topics.clinicalOrders, {
      key: mrn,
      value: order,
      context: newMessageContext({ sourceSystem: 'ehr-writer' }),
    });

    const sent = await waitFor(() => received.find((m) => m.get('PID-3.1') === mrn), {
      description: 'the RDE^O11 at the pharmacy',
    });
    expect(sent.messageType).toBe('RDE^O11');
    expect(sent.version).toBe('2.5.1');
    expect(sent.get('MSH-5')).toBe('SIMRX');
    expect(sent.get('MSH-6')).toBe('NWH-RX');
    expect(sent.get('ORC-1')).toBe('NW');
    expect(sent.get('ORC-2.1')).toBe(order.placerOrderNumber);
    // RXE-2: the dispensable product from the NWH-RX formulary row of RxNorm 197361.
    expect(sent.get('RXE-2.1')).toBe('99901-0101-30');
    expect(sent.get('RXE-2.3')).toBe('NDC');

    const statuses = await readTopic(messaging.kafka, Topics.clinicalOrderStatus.name, {
      until: (records) => records.some((r) => r.key?.toString() === mrn),
      description: "the order status of this test's order",
    });
    const status = await messaging.codec.decode<OrderStatusChanged>(
      OrderStatusChangedContract,
      statuses.find((r) => r.key?.toString() === mrn)!.value,
    );
    expect(status).toMatchObject({
      eventId: `${order.eventId}#ACCEPTED`,
      sourceSystem,
      status: 'ACCEPTED',
      orderResourceType: 'MedicationRequest',
    });
  });
});

/** Amlodipine 5 mg daily, ordered in the EHR and routed to this test's pharmacy connection. */
function medicationOrder(id: string, mrn: string): OrderEvent {
  const now = Date.now();
  return {
    eventId: `MedicationRequest/${id}/_history/1`,
    action: 'NEW',
    category: 'PHARMACY',
    destination: sourceSystem,
    lane: 'ROUTINE',
    priority: 'routine',
    resourceType: 'MedicationRequest',
    resourceId: id,
    resourceVersion: 1,
    placerOrderNumber: `PLC-${id}`.slice(0, 22),
    placerSystem: 'urn:ancillary:placer-order',
    fillerOrderNumber: null,
    patientId: `pat-${id}`,
    patient: {
      identifiers: [{ value: mrn, system: 'NWH', type: 'MR' }],
      familyName: 'Testpatient',
      givenNames: ['Kim'],
      birthDate: '1962-11-30',
      administrativeSex: 'F',
    },
    encounterId: null,
    code: {
      system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
      code: '197361',
      display: 'amlodipine 5 MG Oral Tablet',
    },
    orderedAt: now,
    publishedAt: now,
    requester: {
      identifier: '1234567893',
      familyName: 'Clinician',
      givenName: 'Casey',
      display: null,
    },
    reasons: [],
    specimenTypes: [],
    notes: [],
    medication: {
      doseValue: 5,
      doseUnit: 'mg',
      route: { system: 'http://snomed.info/sct', code: '26643006', display: 'Oral route' },
      frequency: 'QD',
      quantityValue: 30,
      quantityUnit: 'TAB',
      daysSupply: 30,
      refills: 2,
      instructions: 'Take 1 tablet by mouth once daily',
    },
  };
}
