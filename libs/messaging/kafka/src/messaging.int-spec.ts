/**
 * The messaging core against the real broker and schema registry started by the stack
 * (no mocks): Avro through the registry, compatibility enforcement, dead letters with
 * provenance, retries with exactly one commit, at-least-once across a SIGKILL, and one
 * trace across producer and consumer.
 */
import {
  DeadLetterHeaders,
  deadLetterTopicOf,
  MessageHeaders,
  valueSubjectOf,
} from '@ancillary/contracts';
import {
  captureLogger,
  readTopic,
  testStack,
  testTopic,
  uniqueName,
  waitFor,
} from '@ancillary/testing';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { startTracing, type TracingHandle } from '@ancillary/observability';
import type { KafkaMessage } from 'kafkajs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  type CommittedOffset,
  type ConsumedMessage,
  deleteTopics,
  Messaging,
  newMessageContext,
  provisionContracts,
  PermanentError,
  RetriableError,
  SchemaCompatibilityError,
} from './index';
import {
  TestEventV1,
  TestEventV2Breaking,
  TestEventV2Compatible,
  type TestEvent,
} from '../test/test-contracts';

const stack = testStack();
const spans = new InMemorySpanExporter();
let tracing: TracingHandle;
const { logger } = captureLogger('messaging-int', 'warn');
let messaging: Messaging;
const createdTopics: ReturnType<typeof testTopic>[] = [];

function newTopic() {
  const topic = testTopic(TestEventV1);
  createdTopics.push(topic);
  return topic;
}

function provision(topics: ReturnType<typeof testTopic>[]) {
  return provisionContracts(messaging.kafka, messaging.codec, topics, logger);
}

function event(id: string, count = 1): TestEvent {
  return { id, count, note: null };
}

/** Every record of a topic from the beginning, once there are `expected` (for assertions). */
function readAll(topicName: string, expected: number): Promise<KafkaMessage[]> {
  return readTopic(messaging.kafka, topicName, {
    until: (records) => records.length >= expected,
    description: `${expected} records on ${topicName}`,
  });
}

async function committedOffset(groupId: string, topicName: string): Promise<string | undefined> {
  const admin = messaging.kafka.admin();
  await admin.connect();
  try {
    const [result] = await admin.fetchOffsets({ groupId, topics: [topicName] });
    return result?.partitions[0]?.offset;
  } finally {
    await admin.disconnect();
  }
}

beforeAll(async () => {
  tracing = startTracing({
    serviceName: 'messaging-int',
    spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
  });
  messaging = new Messaging(
    {
      service: 'messaging-int',
      brokers: stack.kafkaBrokers,
      registryUrl: stack.registryUrl,
      publishTimeoutMs: 5_000,
    },
    logger,
  );
  await messaging.connect();
});

afterAll(async () => {
  await messaging.close();
  await deleteTopics(messaging.kafka, stack.registryUrl, createdTopics);
  await tracing.shutdown();
});

describe('Avro through the schema registry', () => {
  it('round-trips a record: encoded with the registered schema id, decoded to the same value', async () => {
    const topic = newTopic();
    const report = await provision([topic]);
    expect(report.createdTopics).toEqual([topic.name, deadLetterTopicOf(topic.name)]);
    const registered = report.subjects[0]!;
    expect(registered.subject).toBe(valueSubjectOf(topic.name));

    const value: TestEvent = { id: 'round-trip', count: 42, note: 'naïve café ✓' };
    await messaging.producer.publish(topic, {
      key: 'patient-1',
      value,
      context: newMessageContext(),
    });

    const [record] = await readAll(topic.name, 1);
    expect(record!.value!.readUInt8(0)).toBe(0); // Confluent magic byte
    expect(record!.value!.readInt32BE(1)).toBe(registered.id);
    expect(record!.key!.toString()).toBe('patient-1');
    await expect(messaging.codec.decode<TestEvent>(TestEventV1, record!.value)).resolves.toEqual(
      value,
    );
    // The registry serves the schema under that id to any other Confluent-compatible reader.
    const fromRegistry = (await (
      await fetch(`${stack.registryUrl}/schemas/ids/${registered.id}`, {
        signal: AbortSignal.timeout(10_000),
      })
    ).json()) as {
      schema: string;
    };
    expect(JSON.parse(fromRegistry.schema)).toMatchObject({ name: 'TestEvent' });
  });

  it('refuses a change that breaks backward compatibility, and accepts one that keeps it', async () => {
    const topic = newTopic();
    await provision([topic]);
    const subject = valueSubjectOf(topic.name);

    await expect(messaging.codec.register(subject, TestEventV2Breaking)).rejects.toBeInstanceOf(
      SchemaCompatibilityError,
    );
    await expect(provision([{ ...topic, value: TestEventV2Breaking }])).rejects.toThrow(
      /not compatible with subject/,
    );

    const v2Id = await messaging.codec.register(subject, TestEventV2Compatible);
    // Records written with v2 are still read by v1 code through schema resolution.
    const encoded = await messaging.codec.encode(subject, TestEventV2Compatible, {
      ...event('v2'),
      unit: 'mg',
    });
    expect(encoded.readInt32BE(1)).toBe(v2Id);
    await expect(messaging.codec.decode<TestEvent>(TestEventV1, encoded)).resolves.toEqual(
      event('v2'),
    );
  });
});

describe('ConsumerRunner', () => {
  it('sends a record whose handler fails permanently to <topic>.dlt with its original bytes and provenance', async () => {
    const topic = newTopic();
    await provision([topic]);
    await messaging.producer.publish(topic, {
      key: 'patient-dlt',
      value: event('poison'),
      context: newMessageContext({ messageControlId: 'MSG-0001', sourceSystem: 'LIS-TEST' }),
    });
    const [original] = await readAll(topic.name, 1);

    const attempts: number[] = [];
    const commits: CommittedOffset[] = [];
    const groupId = uniqueName('dlt-group');
    const runner = messaging.consumer({
      groupId,
      retry: { maxAttempts: 5, initialDelayMs: 10, maxDelayMs: 10 },
      onCommit: (offsets) => commits.push(...offsets),
      subscriptions: [
        {
          topic,
          handler: (message: ConsumedMessage<TestEvent>) => {
            attempts.push(message.attempt);
            return Promise.reject(new PermanentError('no mapping for local code XYZ'));
          },
        },
      ],
    });
    await runner.start();
    try {
      const [dead] = await readAll(deadLetterTopicOf(topic.name), 1);
      await waitFor(() => commits.length > 0, {
        description: 'offset commit after dead-lettering',
      });
      expect(attempts).toEqual([1]); // permanent: no retry
      expect(Buffer.compare(dead!.value!, original!.value!)).toBe(0);
      expect(dead!.key!.toString()).toBe('patient-dlt');
      const h = (name: string) => dead!.headers![name]?.toString();
      expect(h(DeadLetterHeaders.originalTopic)).toBe(topic.name);
      expect(h(DeadLetterHeaders.originalPartition)).toBe('0');
      expect(h(DeadLetterHeaders.originalOffset)).toBe('0');
      expect(h(DeadLetterHeaders.originalTimestamp)).toBe(original!.timestamp);
      expect(h(DeadLetterHeaders.errorClass)).toBe('PermanentError');
      expect(h(DeadLetterHeaders.errorCode)).toBe('PERMANENT');
      expect(h(DeadLetterHeaders.errorMessage)).toBe('no mapping for local code XYZ');
      expect(h(DeadLetterHeaders.attempts)).toBe('1');
      expect(h(DeadLetterHeaders.service)).toBe('messaging-int');
      expect(h(MessageHeaders.messageControlId)).toBe('MSG-0001');
      expect(h(MessageHeaders.sourceSystem)).toBe('LIS-TEST');
      expect(await committedOffset(groupId, topic.name)).toBe('1');
    } finally {
      await runner.stop();
    }
  });

  it('retries a retriable failure with backoff, then succeeds with exactly one commit', async () => {
    const topic = newTopic();
    await provision([topic]);
    await messaging.producer.publish(topic, {
      key: 'p-retry',
      value: event('flaky'),
      context: newMessageContext(),
    });

    const attempts: number[] = [];
    const attemptTimes: number[] = [];
    const commits: CommittedOffset[] = [];
    const groupId = uniqueName('retry-group');
    const runner = messaging.consumer({
      groupId,
      commitIntervalMs: 0,
      retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 400, multiplier: 2 },
      onCommit: (offsets) => commits.push(...offsets),
      subscriptions: [
        {
          topic,
          handler: (message: ConsumedMessage<TestEvent>) => {
            attempts.push(message.attempt);
            attemptTimes.push(Date.now());
            return message.attempt < 3
              ? Promise.reject(new RetriableError('database unavailable'))
              : Promise.resolve();
          },
        },
      ],
    });
    await runner.start();
    try {
      await waitFor(() => commits.length >= 1, { description: 'commit after success' });
      expect(attempts).toEqual([1, 2, 3]);
      expect(commits).toEqual([{ topic: topic.name, partition: 0, offset: '1' }]);
      expect(await committedOffset(groupId, topic.name)).toBe('1');
      // Nothing was dead-lettered.
      const admin = messaging.kafka.admin();
      await admin.connect();
      const dltOffsets = await admin.fetchTopicOffsets(deadLetterTopicOf(topic.name));
      await admin.disconnect();
      expect(dltOffsets.map((o) => o.high)).toEqual(['0']);
    } finally {
      await runner.stop();
    }
    expect(commits).toHaveLength(1);
  });

  it('dead-letters a retriable failure once its retry budget is spent', async () => {
    const topic = newTopic();
    await provision([topic]);
    await messaging.producer.publish(topic, {
      key: 'p-x',
      value: event('always-down'),
      context: newMessageContext(),
    });
    const attempts: number[] = [];
    const runner = messaging.consumer({
      groupId: uniqueName('budget-group'),
      retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20 },
      subscriptions: [
        {
          topic,
          handler: (message: ConsumedMessage<TestEvent>) => {
            attempts.push(message.attempt);
            return Promise.reject(new RetriableError('still down'));
          },
        },
      ],
    });
    await runner.start();
    try {
      const [dead] = await readAll(deadLetterTopicOf(topic.name), 1);
      expect(attempts).toEqual([1, 2, 3]);
      expect(dead!.headers![DeadLetterHeaders.attempts]?.toString()).toBe('3');
      expect(dead!.headers![DeadLetterHeaders.errorCode]?.toString()).toBe('RETRIABLE');
    } finally {
      await runner.stop();
    }
  });

  it('does not commit a record whose dead-letter publish failed, and dead-letters it once it can', async () => {
    const topic = newTopic();
    await provision([topic]);
    // Remove the dead-letter topic: publishing there now fails (auto-creation is off).
    const admin = messaging.kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [deadLetterTopicOf(topic.name)] });
    await messaging.producer.publish(topic, {
      key: 'p-y',
      value: event('undeliverable'),
      context: newMessageContext(),
    });

    const attempts: number[] = [];
    const groupId = uniqueName('dltfail-group');
    const runner = messaging.consumer({
      groupId,
      retry: { maxAttempts: 1 },
      subscriptions: [
        {
          topic,
          handler: (message: ConsumedMessage<TestEvent>) => {
            attempts.push(message.attempt);
            return Promise.reject(new PermanentError('unmapped'));
          },
        },
      ],
    });
    await runner.start();
    try {
      await waitFor(() => attempts.length >= 2, {
        timeoutMs: 45_000,
        description: 'redelivery after a failed dead-letter publish',
      });
      expect(await committedOffset(groupId, topic.name)).toBe('-1');
      // The dead-letter topic comes back: the record gets there and only then is committed.
      await admin.createTopics({
        topics: [{ topic: deadLetterTopicOf(topic.name), numPartitions: 1 }],
        waitForLeaders: true,
      });
      const [dead] = await readAll(deadLetterTopicOf(topic.name), 1);
      expect(dead!.headers![DeadLetterHeaders.errorMessage]?.toString()).toBe('unmapped');
      await waitFor(async () => (await committedOffset(groupId, topic.name)) === '1', {
        timeoutMs: 30_000,
        description: 'commit after the dead letter was stored',
      });
    } finally {
      await admin.disconnect();
      await runner.stop();
    }
  });

  it('redelivers a record to a restarted consumer when the first one was killed before committing', async () => {
    const topic = newTopic();
    await provision([topic]);
    const groupId = uniqueName('kill-group');
    await messaging.producer.publish(topic, {
      key: 'p-kill',
      value: event('survivor'),
      context: newMessageContext(),
    });

    const child = spawn(
      process.execPath,
      [
        '-r',
        '@swc-node/register',
        join(__dirname, '../test/kill-before-commit.child.ts'),
        stack.kafkaBrokers.join(','),
        stack.registryUrl,
        topic.name,
        groupId,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          SWC_NODE_PROJECT: join(__dirname, '../../../../tsconfig.base.json'),
        },
      },
    );
    let childOutput = '';
    child.stdout.on('data', (d: Buffer) => (childOutput += d.toString()));
    child.stderr.on('data', (d: Buffer) => (childOutput += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => {
        resolve(signal);
      }),
    );
    await waitFor(() => childOutput.includes('received survivor at offset 0'), {
      timeoutMs: 45_000,
      description: 'the child consumer to receive the record',
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(await committedOffset(groupId, topic.name)).toBe('-1');

    const received: string[] = [];
    const runner = messaging.consumer({
      groupId,
      // The killed member's session must expire before the group rebalances to the new one.
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 1_000,
      subscriptions: [
        {
          topic,
          handler: (message: ConsumedMessage<TestEvent>) => {
            received.push(`${message.value.id}@${message.offset}`);
            return Promise.resolve();
          },
        },
      ],
    });
    await runner.start();
    try {
      await waitFor(() => received.length > 0, {
        timeoutMs: 60_000,
        description: 'redelivery after restart',
      });
      expect(received).toEqual(['survivor@0']);
      await waitFor(async () => (await committedOffset(groupId, topic.name)) === '1', {
        description: 'commit by the restarted consumer',
      });
    } finally {
      await runner.stop();
    }
  });
  it('stops gracefully: the record in hand is finished and committed before disconnecting', async () => {
    const topic = newTopic();
    await provision([topic]);
    await messaging.producer.publish(topic, {
      key: 'p-slow',
      value: event('slow'),
      context: newMessageContext(),
    });
    const groupId = uniqueName('graceful-group');
    let started = false;
    let finished = false;
    const runner = messaging.consumer({
      groupId,
      commitIntervalMs: 60_000, // only the end-of-batch commit can save this record
      subscriptions: [
        {
          topic,
          handler: async () => {
            started = true;
            await new Promise((resolve) => setTimeout(resolve, 1_500));
            finished = true;
          },
        },
      ],
    });
    await runner.start();
    await waitFor(() => started, { description: 'the handler to start' });
    await runner.stop();
    expect(finished).toBe(true);
    expect(await committedOffset(groupId, topic.name)).toBe('1');
  });
});

describe('tracing across Kafka', () => {
  it('puts the producer span and the consumer span in one trace', async () => {
    const topic = newTopic();
    await provision([topic]);
    const tracer = trace.getTracer('test');
    const traceId = await tracer.startActiveSpan('mllp receive (test)', async (root) => {
      await messaging.producer.publish(topic, {
        key: 'p-trace',
        value: event('traced'),
        context: newMessageContext(),
      });
      root.end();
      return root.spanContext().traceId;
    });

    let handledInTrace: string | undefined;
    const runner = messaging.consumer({
      groupId: uniqueName('trace-group'),
      subscriptions: [
        {
          topic,
          handler: (message: ConsumedMessage<TestEvent>) => {
            handledInTrace = trace.getActiveSpan()?.spanContext().traceId;
            expect(message.headers[MessageHeaders.traceparent]).toMatch(
              new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`),
            );
            return Promise.resolve();
          },
        },
      ],
    });
    await runner.start();
    try {
      await waitFor(() => handledInTrace, { description: 'the consumer to handle the record' });
      expect(handledInTrace).toBe(traceId);
      const finished = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      const producerSpan = finished.find((s) => s.name === `${topic.name} publish`);
      const consumerSpan = finished.find((s) => s.name === `${topic.name} process`);
      expect(producerSpan).toBeDefined();
      expect(consumerSpan).toBeDefined();
      expect(consumerSpan!.parentSpanContext?.spanId).toBe(producerSpan!.spanContext().spanId);
    } finally {
      await runner.stop();
    }
  });
});
