/**
 * The lab gateway as deployed, against the real stack: its order consumers are wired (an order
 * for its LIS is picked up and tried) and an unreachable LIS does not make it unready.
 */
import { topicCatalogue, Topics, type OrderEvent } from '@ancillary/contracts';
import { Messaging, newMessageContext, provisionContracts } from '@ancillary/messaging-kafka';
import {
  captureLogger,
  freePort,
  startGroupsAtEnd,
  testStack,
  uniqueName,
  waitFor,
} from '@ancillary/testing';
import { startLabGateway, type LabGatewayHandle } from './lab-gateway';

const stack = testStack();
const captured = captureLogger('lab-gateway-int', 'info');
let messaging: Messaging;
let gateway: LabGatewayHandle | undefined;

beforeAll(async () => {
  messaging = new Messaging(
    { service: 'lab-gateway-int', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
    captured.logger,
  );
  await messaging.connect();
  await provisionContracts(messaging.kafka, messaging.codec, topicCatalogue, captured.logger);
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  await messaging.close();
});

it('stays ready while its LIS is down, with the order waiting to be resent', async () => {
  const sourceSystem = uniqueName('lis').toLowerCase();
  const prefix = uniqueName('lab-gateway-int');
  // "latest", without the race between joining and resolving it: the groups start at the end.
  await startGroupsAtEnd(messaging.kafka, [
    [Topics.clinicalOrders.name, `${prefix}-orders`],
    [Topics.clinicalOrdersStat.name, `${prefix}-orders-stat`],
  ]);
  gateway = await startLabGateway(
    {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      SOURCE_SYSTEM: sourceSystem,
      MLLP_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      CONSUMER_START: 'latest',
      ORDERS_CONSUMER_GROUP_PREFIX: prefix,
      ORDERS_MLLP_PORT: String(await freePort()),
      ORDERS_RETRY_MAX_DELAY_MS: '1000',
      TERMINOLOGY_WATCH: 'false',
    },
    { logger: captured.logger, shutdownHooks: false },
  );
  expect(gateway.config).toMatchObject({
    ORDERS_ENABLED: true,
    ORDERS_MESSAGE_FORMAT: 'ORM^O01',
    ORDERS_HL7_VERSION: '2.5.1',
    ORDERS_FACILITY: 'NWH-LAB',
    ACCEPTED_MESSAGE_TYPES: ['ORU^R01', 'ORM^O01', 'OML^O21', 'ORR^O02', 'ORL^O22'],
  });
  const url = gateway.url;
  await waitFor(async () => (await fetch(`${url}/ready`)).ok, {
    timeoutMs: 60_000,
    description: 'the gateway ready (order consumers joined)',
  });

  const id = uniqueName('sr');
  const order: OrderEvent = {
    eventId: `ServiceRequest/${id}/_history/1`,
    action: 'NEW',
    category: 'LABORATORY',
    destination: sourceSystem,
    lane: 'ROUTINE',
    priority: 'routine',
    resourceType: 'ServiceRequest',
    resourceId: id,
    resourceVersion: 1,
    placerOrderNumber: `PLC-${id}`,
    placerSystem: 'urn:ancillary:placer-order',
    fillerOrderNumber: null,
    patientId: 'pat-int',
    patient: {
      identifiers: [{ value: uniqueName('MRN'), system: 'NWH', type: 'MR' }],
      familyName: 'Testpatient',
      givenNames: ['Sam'],
      birthDate: '1990-05-01',
      administrativeSex: 'U',
    },
    encounterId: null,
    code: { system: 'http://loinc.org', code: '51990-0', display: 'Basic metabolic panel' },
    orderedAt: Date.now(),
    publishedAt: Date.now(),
    requester: null,
    reasons: [],
    specimenTypes: [],
    notes: [],
    medication: null,
  };
  await messaging.producer.publish<OrderEvent>(Topics.clinicalOrders, {
    key: order.patient.identifiers[0]!.value,
    value: order,
    context: newMessageContext(),
  });
  const tried = () =>
    captured
      .lines()
      .filter(
        (l) =>
          l['destination'] === sourceSystem &&
          l['msg'] === 'order not delivered: the ancillary gave no usable answer; will resend',
      ).length;
  await waitFor(() => tried() >= 3, { description: 'the order tried, refused and resent' });

  const ready = await fetch(`${url}/ready`);
  expect(ready.status).toBe(200);
  expect((await fetch(`${url}/health`)).status).toBe(200);
});
