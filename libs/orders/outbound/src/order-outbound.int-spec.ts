/**
 * Orders out against the real broker and registry, with a real MLLP server as the ancillary.
 *
 * The handlers are bound to the catalogue's order topics, so each test owns a destination name
 * (other runs' orders on the same topics are not for it and are skipped) and its own consumer
 * groups, whose offsets are set to the topics' ends before the service starts: the "latest"
 * start, without the race between joining the group and resolving "latest".
 */
import { Module, type DynamicModule } from '@nestjs/common';
import {
  DeadLetterHeaders,
  deadLetterTopicOf,
  OrderEventContract,
  OrderStatusChangedContract,
  topicCatalogue,
  Topics,
  type OrderEvent,
  type OrderStatusChanged,
  type TopicDefinition,
} from '@ancillary/contracts';
import { Hl7Message } from '@ancillary/hl7-core';
import {
  MllpResult,
  MllpServer,
  type MllpHandler,
  type MllpHandlerResult,
} from '@ancillary/hl7-mllp';
import {
  headersToStrings,
  Messaging,
  newMessageContext,
  provisionContracts,
} from '@ancillary/messaging-kafka';
import { MessagingModule } from '@ancillary/messaging-nest';
import { metricsRegistry, type Logger } from '@ancillary/observability';
import { ObservabilityModule } from '@ancillary/observability-nest';
import { startService, type ServiceHandle } from '@ancillary/service-kit';
import { TerminologyModule } from '@ancillary/terminology-nest';
import {
  captureLogger,
  startGroupsAtEnd,
  testStack,
  uniqueName,
  waitFor,
} from '@ancillary/testing';
import { Partitioners, type Consumer, type PartitionMetadata } from 'kafkajs';
import { orderControlId } from './order-control-id';
import type { OrderOutboundOptions } from './order-outbound.config';
import { OrderOutboundModule } from './order-outbound.module';
import { OrderOutboundService } from './order-outbound.service';
import { labOrder } from './test/order-events';

const stack = testStack();
const captured = captureLogger('order-outbound-int', 'info');
const logger = captured.logger;
let messaging: Messaging;

// ---------------------------------------------------------------------------------------------
// What reached the topics: every status and every dead letter since the start of the topic,
// decoded, kept per destination (the tests' unique names).

interface DeadLetter {
  headers: Record<string, string>;
  order: OrderEvent;
}
const statuses: OrderStatusChanged[] = [];
const deadLetters: DeadLetter[] = [];
const taps: Consumer[] = [];

async function tap(
  topic: string,
  onRecord: (value: Buffer, headers: Record<string, string>) => Promise<void>,
) {
  const consumer = messaging.kafka.consumer({ groupId: uniqueName('tap'), maxWaitTimeInMs: 100 });
  taps.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.value) await onRecord(message.value, headersToStrings(message.headers));
    },
  });
}

const statusesOf = (destination: string) => statuses.filter((s) => s.sourceSystem === destination);

// ---------------------------------------------------------------------------------------------
// The gateway side under test, and the ancillary.

@Module({})
class OutboundTestModule {
  static forRoot(options: OrderOutboundOptions, log: Logger): DynamicModule {
    return {
      module: OutboundTestModule,
      imports: [
        ObservabilityModule.forRoot({ logger: log }),
        MessagingModule.forRoot({
          service: 'order-outbound-int',
          brokers: stack.kafkaBrokers,
          registryUrl: stack.registryUrl,
          groupId: uniqueName('unused'),
          consumer: { partitionsConsumedConcurrently: 6, fromBeginning: false },
        }),
        TerminologyModule.forRoot({ watch: false, logger: log }),
        OrderOutboundModule.forRoot(options),
      ],
    };
  }
}

interface Gateway {
  destination: string;
  service: ServiceHandle;
  outbound: OrderOutboundService;
}
const gateways: Gateway[] = [];
const servers: MllpServer[] = [];

/** Starts the outbound side for a new destination, its groups starting at the topics' ends. */
async function startGateway(
  ancillaryPort: number,
  overrides: { ackTimeoutMs?: number; retryMaxDelayMs?: number } = {},
): Promise<Gateway> {
  const destination = uniqueName('lis').toLowerCase();
  const prefix = uniqueName('order-outbound-int');
  await startGroupsAtEnd(messaging.kafka, [
    [Topics.clinicalOrders.name, `${prefix}-orders`],
    [Topics.clinicalOrdersStat.name, `${prefix}-orders-stat`],
  ]);
  const service = await startService({
    module: OutboundTestModule.forRoot(
      {
        destination,
        consumerGroupPrefix: prefix,
        facility: 'NWH-LAB',
        sendingApplication: 'ANCILLARY-HUB',
        sendingFacility: 'NWH',
        transport: {
          kind: 'mllp',
          host: '127.0.0.1',
          port: ancillaryPort,
          format: 'ORM^O01',
          version: '2.5.1',
          ackTimeoutMs: overrides.ackTimeoutMs ?? 10_000,
          connectTimeoutMs: 2_000,
        },
        retry: { maxDelayMs: overrides.retryMaxDelayMs ?? 2_000 },
      },
      logger,
    ),
    logger,
    host: '127.0.0.1',
    port: 0,
    shutdownHooks: false,
  });
  const gateway = { destination, service, outbound: service.app.get(OrderOutboundService) };
  gateways.push(gateway);
  await waitFor(async () => (await fetch(`${service.url}/ready`)).ok, {
    timeoutMs: 60_000,
    description: 'the order consumers to join',
  });
  return gateway;
}

interface Received {
  controlId: string;
  placer: string;
  mrn: string;
  orderControl: string;
  message: Hl7Message;
}

/** An MLLP server playing the LIS; it records every order frame it is given. */
async function startAncillary(
  handler: (message: Hl7Message) => MllpHandlerResult | Promise<MllpHandlerResult>,
  port = 0,
): Promise<{ port: number; received: Received[]; server: MllpServer }> {
  const received: Received[] = [];
  const recording: MllpHandler = (message) => {
    received.push({
      controlId: message.controlId,
      placer: message.get('ORC-2') ?? '',
      mrn: message.get('PID-3') ?? '',
      orderControl: message.get('ORC-1') ?? '',
      message,
    });
    return handler(message);
  };
  const server = new MllpServer({
    host: '127.0.0.1',
    port,
    handler: recording,
    handlerTimeoutMs: 0,
    closeTimeoutMs: 500,
  });
  const address = await server.listen();
  servers.push(server);
  return { port: address.port, received, server };
}

/** The LIS's ORR^O02: AA with its filler number in ORC-3. */
function orr(order: Hl7Message, filler: string): MllpHandlerResult {
  return MllpResult.accept(
    undefined,
    Hl7Message.parse(
      [
        `MSH|^~\\&|SIMLIS|NWH-LAB|ANCILLARY-HUB|NWH|20260115090001||ORR^O02^ORR_O02|R${order.controlId.slice(1)}|P|2.5.1`,
        `MSA|AA|${order.controlId}`,
        `PID|1||${order.get('PID-3') ?? ''}^^^NWH^MR`,
        `ORC|OK|${order.getRaw('ORC-2') ?? ''}|${filler}^SIMLIS`,
      ].join('\r'),
    ),
  );
}

let sequence = 0;
/** A lab order for a destination; `patient` names the MRN (the record key). */
function order(
  destination: string,
  patient: string,
  overrides: Partial<OrderEvent> = {},
): OrderEvent {
  const id = uniqueName('sr');
  sequence += 1;
  return labOrder({
    eventId: `ServiceRequest/${id}/_history/1`,
    resourceId: id,
    destination,
    placerOrderNumber: `PLC-${sequence}-${id}`,
    patient: {
      ...labOrder().patient,
      identifiers: [{ value: patient, system: 'NWH', type: 'MR' }],
    },
    ...overrides,
  });
}

async function publish(topic: TopicDefinition, orders: OrderEvent[]): Promise<void> {
  await messaging.producer.publishBatch<OrderEvent>(
    topic,
    orders.map((o) => ({
      key: o.patient.identifiers[0]!.value,
      value: o,
      context: newMessageContext(),
    })),
  );
}

beforeAll(async () => {
  messaging = new Messaging(
    {
      service: 'order-outbound-int-harness',
      brokers: stack.kafkaBrokers,
      registryUrl: stack.registryUrl,
    },
    logger,
  );
  await messaging.connect();
  await provisionContracts(messaging.kafka, messaging.codec, topicCatalogue, logger);
  await tap(Topics.clinicalOrderStatus.name, async (value) => {
    statuses.push(
      await messaging.codec.decode<OrderStatusChanged>(OrderStatusChangedContract, value),
    );
  });
  await tap(deadLetterTopicOf(Topics.clinicalOrders.name), async (value, headers) => {
    deadLetters.push({
      headers,
      order: await messaging.codec.decode<OrderEvent>(OrderEventContract, value),
    });
  });
}, 120_000);

afterAll(async () => {
  for (const g of gateways) await g.service.close();
  for (const s of servers) await s.close();
  for (const t of taps) await t.disconnect();
  await messaging.close();
});

describe('orders out over MLLP', () => {
  let lis: Awaited<ReturnType<typeof startAncillary>>;
  let gateway: Gateway;
  /** What the LIS answers, by placer order number (default: ORR^O02 with a filler number). */
  const script = new Map<string, (m: Hl7Message) => MllpHandlerResult>();

  beforeAll(async () => {
    lis = await startAncillary((m) => {
      const placer = m.get('ORC-2') ?? '';
      return script.get(placer)?.(m) ?? orr(m, `LIS-${placer}`);
    });
    gateway = await startGateway(lis.port);
  }, 120_000);

  it('sends an order for its destination as ORM^O01 and publishes ACCEPTED with the filler number', async () => {
    const { destination } = gateway;
    const mine = order(destination, uniqueName('MRN'));
    // another gateway's order, ahead of ours in the same partition: skipped, never sent
    const theirs = order('some-other-lis', mine.patient.identifiers[0]!.value);
    await publish(Topics.clinicalOrders, [theirs, mine]);

    const [accepted] = await waitFor(
      () => {
        const found = statusesOf(destination);
        return found.length > 0 && found;
      },
      { description: 'the ACCEPTED status' },
    );
    expect(accepted).toMatchObject({
      eventId: `${mine.eventId}#ACCEPTED`,
      status: 'ACCEPTED',
      placerOrderNumber: mine.placerOrderNumber,
      fillerOrderNumber: `LIS-${mine.placerOrderNumber}`,
      orderEventId: mine.eventId,
      orderResourceType: 'ServiceRequest',
      orderResourceId: mine.resourceId,
      patientIdentifier: mine.patient.identifiers[0]!.value,
      ackCode: 'AA',
      reason: null,
      messageControlId: orderControlId(mine.eventId),
    });

    const sent = lis.received.filter((r) => r.placer === mine.placerOrderNumber);
    expect(sent).toHaveLength(1);
    expect(lis.received.some((r) => r.placer === theirs.placerOrderNumber)).toBe(false);
    const message = sent[0]!.message;
    expect(message.messageType).toBe('ORM^O01');
    expect(message.controlId).toBe(orderControlId(mine.eventId));
    expect(message.get('MSH-5')).toBe('SIMLIS');
    expect(message.get('MSH-6')).toBe('NWH-LAB');
    expect(message.get('ORC-1')).toBe('NW');
    expect(message.getRaw('OBR-4')).toBe(
      'CMP^Comprehensive metabolic panel^L^24323-8^Comprehensive metabolic 2000 panel - Serum or Plasma^LN',
    );
    const metrics = await metricsRegistry().getSingleMetricAsString('orders_sent_total');
    expect(metrics).toContain(
      `orders_sent_total{destination="${destination}",outcome="accepted"} 1`,
    );
  });

  it('publishes REJECTED with the ERR text for an AR, dead-letters the order, and goes on with the next', async () => {
    const { destination } = gateway;
    const mrn = uniqueName('MRN');
    const rejected = order(destination, mrn);
    const next = order(destination, mrn);
    script.set(rejected.placerOrderNumber, () =>
      MllpResult.reject([
        {
          hl7ErrorCode: '103',
          segment: 'OBR',
          field: 4,
          text: 'Test CMP is not orderable at this site',
        },
      ]),
    );
    await publish(Topics.clinicalOrders, [rejected, next]);

    const both = await waitFor(
      () => {
        const found = statusesOf(destination).filter((s) => s.patientIdentifier === mrn);
        return found.length >= 2 && found;
      },
      { description: 'REJECTED then ACCEPTED' },
    );
    expect(both.map((s) => [s.orderEventId, s.status])).toEqual([
      [rejected.eventId, 'REJECTED'],
      [next.eventId, 'ACCEPTED'],
    ]);
    expect(both[0]).toMatchObject({
      eventId: `${rejected.eventId}#REJECTED`,
      ackCode: 'AR',
      reason: 'Test CMP is not orderable at this site',
      fillerOrderNumber: null,
    });

    const dead = await waitFor(
      () => deadLetters.find((d) => d.order.eventId === rejected.eventId),
      { description: 'the rejected order on clinical.orders.v1.dlt' },
    );
    expect(dead.order).toEqual(rejected);
    expect(dead.headers[DeadLetterHeaders.originalTopic]).toBe('clinical.orders.v1');
    expect(dead.headers[DeadLetterHeaders.errorCode]).toBe('order-rejected');
    expect(dead.headers[DeadLetterHeaders.errorClass]).toBe('OrderRejectedError');
    expect(dead.headers[DeadLetterHeaders.errorMessage]).toContain(
      'Test CMP is not orderable at this site',
    );
    expect(dead.headers[DeadLetterHeaders.attempts]).toBe('1');
    // sent once: a rejection is final
    expect(lis.received.filter((r) => r.placer === rejected.placerOrderNumber)).toHaveLength(1);
    expect(deadLetters.some((d) => d.order.eventId === next.eventId)).toBe(false);
  });

  it('rejects an order the LIS cannot be sent (code not in its tables) without sending it', async () => {
    const { destination } = gateway;
    const mrn = uniqueName('MRN');
    const unmappable = order(destination, mrn, {
      code: { system: 'http://loinc.org', code: '99999-9', display: 'Not in the catalogue' },
    });
    await publish(Topics.clinicalOrders, [unmappable]);

    const [status] = await waitFor(
      () => {
        const found = statusesOf(destination).filter((s) => s.patientIdentifier === mrn);
        return found.length > 0 && found;
      },
      { description: 'the REJECTED status' },
    );
    expect(status).toMatchObject({ status: 'REJECTED', ackCode: null });
    expect(status!.reason).toMatch(/LOINC 99999-9/);
    const dead = await waitFor(
      () => deadLetters.find((d) => d.order.eventId === unmappable.eventId),
      { description: 'the order on clinical.orders.v1.dlt' },
    );
    expect(dead.headers[DeadLetterHeaders.errorCode]).toBe('order-unmappable');
    expect(lis.received.some((r) => r.placer === unmappable.placerOrderNumber)).toBe(false);
  });

  it('sends a cancellation with ORC-1 CA and the filler number, and publishes CANCELLED', async () => {
    const { destination } = gateway;
    const mrn = uniqueName('MRN');
    const placed = order(destination, mrn);
    const cancel: OrderEvent = {
      ...placed,
      eventId: placed.eventId.replace('/_history/1', '/_history/2'),
      action: 'CANCEL',
      resourceVersion: 2,
      fillerOrderNumber: `LIS-${placed.placerOrderNumber}`,
    };
    await publish(Topics.clinicalOrders, [placed, cancel]);

    const both = await waitFor(
      () => {
        const found = statusesOf(destination).filter((s) => s.patientIdentifier === mrn);
        return found.length >= 2 && found;
      },
      { description: 'ACCEPTED then CANCELLED' },
    );
    expect(both.map((s) => [s.eventId, s.status])).toEqual([
      [`${placed.eventId}#ACCEPTED`, 'ACCEPTED'],
      [`${cancel.eventId}#CANCELLED`, 'CANCELLED'],
    ]);
    const frames = lis.received.filter((r) => r.placer === placed.placerOrderNumber);
    expect(frames.map((f) => f.orderControl)).toEqual(['NW', 'CA']);
    const ca = frames[1]!.message;
    expect(ca.controlId).toBe(orderControlId(cancel.eventId));
    expect(ca.getRaw('ORC-3')).toBe(`LIS-${placed.placerOrderNumber}^SIMLIS`);
    expect(ca.getRaw('OBR-3')).toBe(`LIS-${placed.placerOrderNumber}^SIMLIS`);
  });
});

describe('orders out while the ancillary is down', () => {
  it('keeps every order until the LIS is up, then delivers them in order per patient, resending only the same control id', async () => {
    // a port that refuses connections now and is the LIS's later
    const placeholder = await startAncillary(() => MllpResult.accept());
    const port = placeholder.port;
    await placeholder.server.close();

    const gateway = await startGateway(port, { ackTimeoutMs: 1_500, retryMaxDelayMs: 1_000 });
    const { destination } = gateway;
    const patients = ['A', 'B', 'C'].map((p) => uniqueName(`MRN-${p}`));
    const orders: OrderEvent[] = [];
    for (let round = 0; round < 3; round++) {
      for (const mrn of patients) orders.push(order(destination, mrn));
    }
    await publish(Topics.clinicalOrders, orders);

    // down for a while: several refused attempts are logged, nothing is accepted
    await waitFor(
      () =>
        captured
          .lines()
          .filter(
            (l) =>
              l['destination'] === destination &&
              l['msg'] === 'order not delivered: the ancillary gave no usable answer; will resend',
          ).length >= 6,
      { timeoutMs: 30_000, description: 'refused attempts while the LIS is down' },
    );
    expect(statusesOf(destination)).toEqual([]);

    // up again; the first order's ACK is "lost" (answered after the sender's ACK timeout)
    let first = true;
    const lis = await startAncillary(async (m) => {
      if (first) {
        first = false;
        await new Promise((resolve) => setTimeout(resolve, 2_500));
      }
      return orr(m, `LIS-${m.get('ORC-2') ?? ''}`);
    }, port);

    const accepted = await waitFor(
      () => {
        const found = statusesOf(destination);
        return found.length >= orders.length && found;
      },
      { timeoutMs: 60_000, description: 'all orders accepted' },
    );
    expect(new Set(accepted.map((s) => s.eventId))).toEqual(
      new Set(orders.map((o) => `${o.eventId}#ACCEPTED`)),
    );
    expect(accepted.every((s) => s.status === 'ACCEPTED')).toBe(true);

    // nothing lost, nothing else: exactly our control ids, each always with the same order
    const controlIds = new Map(orders.map((o) => [orderControlId(o.eventId), o.placerOrderNumber]));
    for (const frame of lis.received) expect(controlIds.get(frame.controlId)).toBe(frame.placer);
    expect(new Set(lis.received.map((f) => f.controlId))).toEqual(new Set(controlIds.keys()));
    expect(lis.received.length).toBeGreaterThan(orders.length); // the lost ACK's resend

    // in order per patient: by first arrival, and by status
    for (const mrn of patients) {
      const expected = orders
        .filter((o) => o.patient.identifiers[0]!.value === mrn)
        .map((o) => o.placerOrderNumber);
      const arrived = [...new Set(lis.received.filter((f) => f.mrn === mrn).map((f) => f.placer))];
      expect(arrived).toEqual(expected);
      expect(
        accepted.filter((s) => s.patientIdentifier === mrn).map((s) => s.placerOrderNumber),
      ).toEqual(expected);
    }
  });
});

describe('the STAT lane', () => {
  it('sends a STAT order before routine orders already waiting for the LIS', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held = false;
    const lis = await startAncillary(async (m) => {
      if (!held) {
        held = true; // the LIS is slow with the first order: everything else queues behind it
        await gate;
      }
      return orr(m, `LIS-${m.get('ORC-2') ?? ''}`);
    });
    const gateway = await startGateway(lis.port, { ackTimeoutMs: 60_000 });
    const { destination, outbound } = gateway;

    // five patients whose routine orders land on five different partitions
    const keys = await keysOnDistinctPartitions(Topics.clinicalOrders, 5);
    const routine = keys.map((mrn) => order(destination, mrn));
    await publish(Topics.clinicalOrders, routine);
    await waitFor(() => lis.received.length === 1 && outbound.waiting('ROUTINE') === 4, {
      description: 'one routine order in flight, four waiting for the connection',
    });

    const stat = order(destination, uniqueName('MRN-STAT'), { lane: 'STAT', priority: 'stat' });
    await publish(Topics.clinicalOrdersStat, [stat]);
    await waitFor(() => outbound.waiting('STAT') === 1, { description: 'the STAT order waiting' });
    expect(lis.received).toHaveLength(1);
    release();

    await waitFor(() => lis.received.length === 6, { description: 'all six orders sent' });
    const placers = lis.received.map((r) => r.placer);
    expect(placers[1]).toBe(stat.placerOrderNumber);
    expect(new Set([placers[0], ...placers.slice(2)])).toEqual(
      new Set(routine.map((o) => o.placerOrderNumber)),
    );
    expect(lis.received[1]!.message.get('TQ1-9')).toBe('S');
    await waitFor(() => statusesOf(destination).length === 6, { description: 'six ACCEPTED' });
  });
});

/** Patient keys that the default (murmur2) partitioner puts on `count` different partitions. */
async function keysOnDistinctPartitions(topic: TopicDefinition, count: number): Promise<string[]> {
  const admin = messaging.kafka.admin();
  await admin.connect();
  let partitionMetadata: PartitionMetadata[];
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic.name] });
    partitionMetadata = metadata.topics[0]!.partitions;
  } finally {
    await admin.disconnect();
  }
  const partitioner = Partitioners.DefaultPartitioner();
  const byPartition = new Map<number, string>();
  while (byPartition.size < count) {
    const key = uniqueName('MRN-R');
    const partition = partitioner({
      topic: topic.name,
      partitionMetadata,
      message: { key, value: null },
    });
    if (!byPartition.has(partition)) byPartition.set(partition, key);
  }
  return [...byPartition.values()];
}
