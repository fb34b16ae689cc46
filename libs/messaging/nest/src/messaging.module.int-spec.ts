/**
 * The Nest adapter against the real broker and registry: a service module with
 * @ConsumeTopic handlers receives decoded records, dead-letters what its handler refuses,
 * reports readiness and metrics over HTTP, and commits and disconnects on shutdown.
 */
import {
  Injectable,
  Module,
  type INestApplication,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { deadLetterTopicOf, DeadLetterHeaders } from '@ancillary/contracts';
import {
  type ConsumedMessage,
  deleteTopics,
  MessageProducer,
  Messaging,
  newMessageContext,
  PermanentError,
  provisionContracts,
} from '@ancillary/messaging-kafka';
import { createPool, databaseReadiness } from '@ancillary/database';
import {
  ObservabilityModule,
  PinoNestLogger,
  ReadinessRegistry,
} from '@ancillary/observability-nest';
import { captureLogger, testStack, testTopic, uniqueName, waitFor } from '@ancillary/testing';
import type { KafkaMessage } from 'kafkajs';
import { ConsumeTopic } from './consume-topic.decorator';
import { MessagingModule } from './messaging.module';

interface TestEvent {
  id: string;
  count: number;
  note: string | null;
}

const TestEventContract = {
  name: 'health.ancillary.test.NestEvent',
  source: 'libs/messaging/nest/src/messaging.module.int-spec.ts',
  schema: JSON.stringify({
    type: 'record',
    name: 'NestEvent',
    namespace: 'health.ancillary.test',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'count', type: 'int' },
      { name: 'note', type: ['null', 'string'], default: null },
    ],
  }),
};

const stack = testStack();
const acceptedTopic = testTopic(TestEventContract);
const refusedTopic = testTopic(TestEventContract);
const groupId = uniqueName('nest-group');
const received: { value: TestEvent; controlId?: string; key: string | null }[] = [];

@Injectable()
class ResultsHandler {
  @ConsumeTopic(acceptedTopic)
  onAccepted(value: TestEvent, message: ConsumedMessage<TestEvent>): Promise<void> {
    received.push({
      value,
      key: message.key,
      ...(message.context.messageControlId ? { controlId: message.context.messageControlId } : {}),
    });
    return Promise.resolve();
  }

  @ConsumeTopic(refusedTopic)
  onRefused(value: TestEvent): Promise<void> {
    return Promise.reject(new PermanentError(`event ${value.id} cannot be mapped`));
  }
}

/** What a stateful service does: its database joins /ready. */
@Injectable()
class DatabaseReadiness implements OnModuleInit, OnModuleDestroy {
  private readonly pool = createPool({ databaseUrl: stack.databaseUrl });
  constructor(private readonly readiness: ReadinessRegistry) {}
  onModuleInit(): void {
    this.readiness.add(databaseReadiness(this.pool));
  }
  async onModuleDestroy(): Promise<void> {
    await this.pool.end();
  }
}

const { logger } = captureLogger('nest-int', 'warn');

@Module({
  imports: [
    ObservabilityModule.forRoot({ logger }),
    MessagingModule.forRoot({
      service: 'nest-int',
      brokers: stack.kafkaBrokers,
      registryUrl: stack.registryUrl,
      groupId,
      consumer: { retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 10 } },
    }),
  ],
  providers: [ResultsHandler, DatabaseReadiness],
})
class TestServiceModule {}

let app: INestApplication;
let baseUrl: string;

async function readAll(
  messaging: Messaging,
  topic: string,
  expected: number,
): Promise<KafkaMessage[]> {
  const consumer = messaging.kafka.consumer({
    groupId: uniqueName('reader'),
    maxWaitTimeInMs: 100,
  });
  const seen: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: ({ message }) => Promise.resolve(void seen.push(message)) });
  try {
    await waitFor(() => seen.length >= expected, {
      description: `${expected} records on ${topic}`,
    });
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

beforeAll(async () => {
  // Topics are provisioned before the service starts, as the deployment's provisioning step does.
  const provisioner = new Messaging(
    { service: 'nest-int-setup', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
    logger,
  );
  await provisionContracts(
    provisioner.kafka,
    provisioner.codec,
    [acceptedTopic, refusedTopic],
    logger,
  );
  await provisioner.close();

  app = await NestFactory.create(TestServiceModule, { logger: new PinoNestLogger(logger) });
  await app.listen(0, '127.0.0.1');
  baseUrl = await app.getUrl();
});

afterAll(async () => {
  const cleaner = new Messaging(
    { service: 'nest-int-cleanup', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
    logger,
  );
  await deleteTopics(cleaner.kafka, stack.registryUrl, [acceptedTopic, refusedTopic]);
});

it('delivers decoded records with their context to @ConsumeTopic handlers', async () => {
  const producer = app.get(MessageProducer);
  await producer.publish(acceptedTopic, {
    key: 'MRN-1001',
    value: { id: 'evt-1', count: 3, note: null },
    context: newMessageContext({ messageControlId: 'CTRL-77' }),
  });
  await waitFor(() => received.length === 1, { description: 'the handler to receive the record' });
  expect(received[0]).toEqual({
    value: { id: 'evt-1', count: 3, note: null },
    key: 'MRN-1001',
    controlId: 'CTRL-77',
  });
});

it('dead-letters what a handler refuses', async () => {
  const producer = app.get(MessageProducer);
  await producer.publish(refusedTopic, {
    key: 'MRN-2',
    value: { id: 'evt-bad', count: 0, note: null },
    context: newMessageContext(),
  });
  const [dead] = await readAll(app.get(Messaging), deadLetterTopicOf(refusedTopic.name), 1);
  expect(dead!.headers![DeadLetterHeaders.errorMessage]?.toString()).toBe(
    'event evt-bad cannot be mapped',
  );
  expect(dead!.headers![DeadLetterHeaders.service]?.toString()).toBe('nest-int');
});

it('answers /health, /ready with every dependency, and /metrics in Prometheus format', async () => {
  const health = await fetch(`${baseUrl}/health`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: 'ok' });

  const ready = await fetch(`${baseUrl}/ready`);
  const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
  expect(ready.status).toBe(200);
  expect(body.status).toBe('ready');
  expect(Object.keys(body.checks).sort()).toEqual([
    'consumers',
    'database',
    'kafka',
    'schema-registry',
  ]);

  const metrics = await fetch(`${baseUrl}/metrics`);
  expect(metrics.headers.get('content-type')).toContain('text/plain');
  const text = await metrics.text();
  expect(text).toMatch(
    new RegExp(
      `ancillary_messaging_consumed_total\\{topic="${acceptedTopic.name.replace(/\./g, '\\.')}",group="${groupId}",outcome="handled"\\} 1`,
    ),
  );
  expect(text).toContain('ancillary_messaging_dead_letters_total');
  expect(text).toContain('nodejs_eventloop_lag_seconds');
});

it('answers /ready with 503 naming the dependency that does not answer', async () => {
  const unreachable = createPool({
    databaseUrl: 'postgres://postgres@127.0.0.1:1/none',
    connectionTimeoutMs: 500,
  });
  app.get(ReadinessRegistry).add({ ...databaseReadiness(unreachable), name: 'reporting-database' });
  try {
    const ready = await fetch(`${baseUrl}/ready`);
    const body = (await ready.json()) as {
      status: string;
      checks: Record<string, { ok: boolean; error?: string }>;
    };
    expect(ready.status).toBe(503);
    expect(body.status).toBe('not-ready');
    expect(body.checks['reporting-database']).toMatchObject({ ok: false });
    expect(body.checks['kafka']).toEqual({ ok: true });
  } finally {
    await unreachable.end();
  }
});

it('commits what was handled and disconnects on shutdown', async () => {
  await app.close();
  const checker = new Messaging(
    { service: 'nest-int-check', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
    logger,
  );
  const admin = checker.kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchOffsets({
      groupId,
      topics: [acceptedTopic.name, refusedTopic.name],
    });
    expect(offsets.map((t) => [t.topic, t.partitions[0]?.offset])).toEqual(
      expect.arrayContaining([
        [acceptedTopic.name, '1'],
        [refusedTopic.name, '1'],
      ]),
    );
  } finally {
    await admin.disconnect();
    await checker.close();
  }
});
