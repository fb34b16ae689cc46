/**
 * The radiology gateway as apps/radiology-gateway starts it (startRadiologyGateway from the
 * environment), against the real broker, registry and PostgreSQL: a RIS report is acknowledged
 * AA once its envelope is on the gateway's inbound topic (one of its own), a resend is stored
 * once, a message type the connection does not take is answered AR with an error naming it; and
 * an imaging order for this connection leaves as ORM^O01 v2.3 with the RIS's local code, its AA
 * reported ACCEPTED. The order topics are the catalogue's (the outbound module has no other):
 * this test's orders carry its own destination, and its consumer groups start at the end.
 */
import {
  MessageHeaders,
  OrderStatusChangedContract,
  RawHl7EnvelopeContract,
  Topics,
  type OrderEvent,
  type OrderStatusChanged,
  type RawHl7Envelope,
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
import { startRadiologyGateway, type RadiologyGatewayHandle } from './radiology-gateway';

const stack = testStack();
const inbound = testTopic(RawHl7EnvelopeContract);
const sourceSystem = uniqueName('ris')
  .toLowerCase()
  .replace(/[^a-z0-9-]/g, '');
const { logger } = captureLogger('radiology-gateway-int', 'warn');
let messaging: Messaging;
let scratch: ScratchDatabase;
let gateway: RadiologyGatewayHandle;
let client: MllpClient;
/** The RIS's order listener: answers AA to every order and keeps it. */
let ris: MllpServer;
const received: Hl7Message[] = [];

/** A RIS report as SIMRIS sends it: v2.3, the report text in TX observations. */
function report(controlId: string, type = 'ORU^R01'): string {
  return [
    `MSH|^~\\&|SIMRIS|NWH-RAD|ANCILLARY-HUB|NWH|20261126103000||${type}|${controlId}|P|2.3`,
    'PID|1||MRN-RAD-7^^^NWH^MR||Roe^Alex||19700312|M',
    'OBR|1|PL-RAD-1^ANCILLARY-HUB|ACC-5521^SIMRIS|71046^XR chest 2 views^C4|||20261126101500|||||||||||ACC-5521||||20261126102900||CR|F',
    'OBX|1|TX|18782-3^Study observation^LN||Lungs are clear. No effusion.||||||F',
    'OBX|2|TX|19005-8^Impression^LN||No acute cardiopulmonary disease.||||||F',
  ].join('\r');
}

beforeAll(async () => {
  messaging = new Messaging(
    {
      service: 'radiology-gateway-int',
      brokers: stack.kafkaBrokers,
      registryUrl: stack.registryUrl,
    },
    logger,
  );
  await messaging.connect();
  const orderTopics = [
    Topics.clinicalOrders,
    Topics.clinicalOrdersStat,
    Topics.clinicalOrderStatus,
  ];
  await provisionContracts(messaging.kafka, messaging.codec, [inbound, ...orderTopics], logger);
  scratch = await createScratchDatabase();
  ris = new MllpServer({
    host: '127.0.0.1',
    port: 0,
    handler: (message) => {
      received.push(message);
      return Promise.resolve(MllpResult.accept());
    },
    logger,
  });
  await ris.listen();
  gateway = await startRadiologyGateway(
    testEnvironment({
      SERVICE_NAME: sourceSystem, // the order consumer groups' prefix
      SOURCE_SYSTEM: sourceSystem,
      MLLP_PORT: '0',
      DATABASE_URL: scratch.url,
      ORDERS_MLLP_PORT: String(ris.address()!.port),
      CONSUMER_START: 'latest',
      TERMINOLOGY_WATCH: 'false',
    }),
    { logger, shutdownHooks: false, topics: { inbound } },
  );
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
  await ris.close();
  await scratch.drop();
  await deleteTopics(messaging.kafka, stack.registryUrl, [inbound]);
  await messaging.close();
});

describe('radiology-gateway (real Kafka, registry and PostgreSQL)', () => {
  it('takes the RIS defaults from its schema', () => {
    expect(gateway.config).toMatchObject({
      HTTP_PORT: 0,
      ACCEPTED_MESSAGE_TYPES: ['ORU^R01', 'ORM^O01', 'ORR^O02'],
      ORDERS_MESSAGE_FORMAT: 'ORM^O01',
      ORDERS_HL7_VERSION: '2.3',
      ORDERS_FACILITY: 'NWH-RAD',
    });
  });

  it('answers AA to a report once its envelope is on the topic, and stores a resend once', async () => {
    const controlId = uniqueName('RAD');
    expect((await client.send(report(controlId))).code).toBe('AA');
    expect((await client.send(report(controlId))).code).toBe('AA');

    const stored = await readTopic(messaging.kafka, inbound.name, {
      until: (records) => records.length >= 1,
      description: 'the report envelope',
      settleMs: 1_500, // and no second copy
    });
    expect(stored).toHaveLength(1);
    const record = stored[0]!;
    expect(record.key!.toString()).toBe('MRN-RAD-7');
    expect(record.headers![MessageHeaders.sourceSystem]!.toString()).toBe(sourceSystem);
    const envelope = await messaging.codec.decode<RawHl7Envelope>(
      RawHl7EnvelopeContract,
      record.value,
    );
    expect(envelope).toMatchObject({
      sourceSystem,
      messageControlId: controlId,
      messageType: 'ORU^R01',
      hl7Version: '2.3',
      sendingApplication: 'SIMRIS',
      sendingFacility: 'NWH-RAD',
    });
    expect(envelope.payload.toString('utf8')).toBe(report(controlId));
    const ready = await fetch(`${gateway.url}/ready`);
    expect(ready.status).toBe(200);
  });

  it('answers AR with error 200 to a message type the RIS connection does not take', async () => {
    const refused = client.send(report(uniqueName('RAD'), 'ADT^A08'));
    const nack = (await refused.catch((e: unknown) => e)) as MllpNackError;
    expect(nack).toBeInstanceOf(MllpNackError);
    expect(nack.ackCode).toBe('AR');
    // A v2.3 sender gets a v2.3 ACK: the code in ERR-1 (ELD), the text in MSA-3 (ST 80).
    expect(nack.ack.get('ERR-1.4.1')).toBe('200');
    expect(nack.ack.get('MSA-3')).toMatch(/message type ADT\^A08 is not accepted/);
  });

  it('sends an imaging order for its RIS as ORM^O01 v2.3 in local codes, and reports it ACCEPTED', async () => {
    const mrn = uniqueName('MRN-RAD');
    const id = uniqueName('sr');
    const order = imagingOrder(id, mrn);
    await messaging.producer.publish<OrderEvent>(Topics.clinicalOrders, {
      key: mrn,
      value: order,
      context: newMessageContext({ sourceSystem: 'ehr-writer' }),
    });

    const sent = await waitFor(() => received.find((m) => m.get('PID-3.1') === mrn), {
      description: 'the ORM^O01 at the RIS',
    });
    expect(sent.messageType).toBe('ORM^O01');
    expect(sent.version).toBe('2.3');
    expect(sent.get('MSH-5')).toBe('SIMRIS');
    expect(sent.get('MSH-6')).toBe('NWH-RAD');
    expect(sent.get('ORC-1')).toBe('NW');
    expect(sent.get('ORC-2.1')).toBe(order.placerOrderNumber);
    // OBR-4: the RIS's local procedure code, with the CPT code as the alternate (C4).
    expect(sent.get('OBR-4.1')).toBe('XRCH2V');
    expect(sent.get('OBR-4.4')).toBe('71046');
    expect(sent.get('OBR-4.6')).toBe('C4');

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
      placerOrderNumber: order.placerOrderNumber,
      orderEventId: order.eventId,
    });
  });
});

/** A routine chest X-ray ordered in the EHR, routed to this test's RIS connection. */
function imagingOrder(id: string, mrn: string): OrderEvent {
  const now = Date.now();
  return {
    eventId: `ServiceRequest/${id}/_history/1`,
    action: 'NEW',
    category: 'IMAGING',
    destination: sourceSystem,
    lane: 'ROUTINE',
    priority: 'routine',
    resourceType: 'ServiceRequest',
    resourceId: id,
    resourceVersion: 1,
    placerOrderNumber: `PLC-${id}`.slice(0, 22),
    placerSystem: 'urn:ancillary:placer-order',
    fillerOrderNumber: null,
    patientId: `pat-${id}`,
    patient: {
      identifiers: [{ value: mrn, system: 'NWH', type: 'MR' }],
      familyName: 'Testpatient',
      givenNames: ['Robin'],
      birthDate: '1975-06-01',
      administrativeSex: 'U',
    },
    encounterId: null,
    code: { system: 'http://www.ama-assn.org/go/cpt', code: '71046', display: 'XR chest 2 views' },
    orderedAt: now,
    publishedAt: now,
    requester: {
      identifier: '1234567893',
      familyName: 'Clinician',
      givenName: 'Casey',
      display: null,
    },
    reasons: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'R05.9', display: 'Cough' }],
    specimenTypes: [],
    notes: [],
    medication: null,
  };
}
