/**
 * Bounded reads against the real broker: exactly the requested ranges of several partitions,
 * in order, once each; a stop from inside a batch; a clear error instead of a hang when the
 * end offsets cannot be reached.
 */
import { RawHl7EnvelopeContract, type TopicDefinition } from '@ancillary/contracts';
import { deleteTopics, Messaging, provisionContracts } from '@ancillary/messaging-kafka';
import { captureLogger, testStack, testTopic, uniqueName } from '@ancillary/testing';
import { TopicReadError } from './ops.errors';
import {
  offsetsAtTimestamp,
  readPartitionRanges,
  watermarks,
  withAdmin,
  type PartitionRange,
} from './topic-range.reader';

const stack = testStack();
const { logger } = captureLogger('ops-reader-int', 'warn');
let messaging: Messaging;
let topic: TopicDefinition;

beforeAll(async () => {
  messaging = new Messaging(
    { service: 'ops-reader-int', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
    logger,
  );
  await messaging.connect();
  topic = testTopic(RawHl7EnvelopeContract, 3);
  await provisionContracts(messaging.kafka, messaging.codec, [topic], logger);
  // 10 records on partition 0, 5 on partition 1, none on partition 2.
  const record = (i: number) => ({ key: `k${i}`, value: Buffer.from(`r${i}`), headers: {} });
  const producer = messaging.kafka.producer();
  await producer.connect();
  await producer.send({
    topic: topic.name,
    acks: -1,
    messages: [
      ...Array.from({ length: 10 }, (_x, i) => ({ ...record(i), partition: 0 })),
      ...Array.from({ length: 5 }, (_x, i) => ({ ...record(100 + i), partition: 1 })),
    ],
  });
  await producer.disconnect();
});

afterAll(async () => {
  await messaging.close();
  await deleteTopics(messaging.kafka, stack.registryUrl, [topic]);
});

function ranges(spec: [partition: number, from: bigint, to: bigint][]): PartitionRange[] {
  return spec.map(([partition, from, to]) => ({ topic: topic.name, partition, from, to }));
}

describe('readPartitionRanges', () => {
  it('reads exactly the requested offsets of each partition, in order, and stops at their ends', async () => {
    const seen: string[] = [];
    const outcome = await readPartitionRanges({
      kafka: messaging.kafka,
      groupId: uniqueName('ops-reader'),
      logger,
      ranges: ranges([
        [0, 3n, 8n],
        [1, 0n, 5n],
        [2, 0n, 0n],
      ]),
      onBatch: ({ partition, messages }) => {
        for (const m of messages) seen.push(`${partition}:${m.offset}:${m.value!.toString()}`);
        return Promise.resolve();
      },
    });
    expect(outcome).toEqual({ completed: true, stopped: false });
    expect(seen.filter((s) => s.startsWith('0:'))).toEqual(
      [3, 4, 5, 6, 7].map((o) => `0:${o}:r${o}`),
    );
    expect(seen.filter((s) => s.startsWith('1:'))).toEqual(
      [0, 1, 2, 3, 4].map((o) => `1:${o}:r${100 + o}`),
    );
  });

  it('reads a range longer than one fetch to its end (each batch moves the fetch on)', async () => {
    // 3 MB on partition 2 of a topic of its own: three times kafkajs' 1 MB per-partition fetch.
    const big = testTopic(RawHl7EnvelopeContract, 1);
    await provisionContracts(messaging.kafka, messaging.codec, [big], logger);
    const producer = messaging.kafka.producer();
    await producer.connect();
    const payload = Buffer.alloc(30_000, 'x');
    for (let chunk = 0; chunk < 4; chunk++) {
      await producer.send({
        topic: big.name,
        acks: -1,
        messages: Array.from({ length: 25 }, (_x, i) => ({
          key: `k${chunk * 25 + i}`,
          value: payload,
        })),
      });
    }
    await producer.disconnect();
    try {
      const offsets: number[] = [];
      const outcome = await readPartitionRanges({
        kafka: messaging.kafka,
        groupId: uniqueName('ops-reader-big'),
        logger,
        idleTimeoutMs: 15_000,
        ranges: [{ topic: big.name, partition: 0, from: 0n, to: 100n }],
        onBatch: ({ messages }) => {
          for (const m of messages) offsets.push(Number(m.offset));
          return Promise.resolve();
        },
      });
      expect(outcome).toEqual({ completed: true, stopped: false });
      expect(offsets).toEqual(Array.from({ length: 100 }, (_x, i) => i));
    } finally {
      await deleteTopics(messaging.kafka, stack.registryUrl, [big]);
    }
  }, 60_000);

  it('ends when told to, from inside a batch', async () => {
    let batches = 0;
    const outcome = await readPartitionRanges({
      kafka: messaging.kafka,
      groupId: uniqueName('ops-reader'),
      logger,
      ranges: ranges([[0, 0n, 10n]]),
      onBatch: (_batch, control) => {
        batches++;
        control.stop();
        return Promise.resolve();
      },
    });
    expect(outcome).toEqual({ completed: false, stopped: true });
    expect(batches).toBe(1);
  });

  it('fails with TopicReadError, not a hang, when the end offsets are never reached', async () => {
    const started = Date.now();
    await expect(
      readPartitionRanges({
        kafka: messaging.kafka,
        groupId: uniqueName('ops-reader'),
        logger,
        idleTimeoutMs: 1_500,
        ranges: ranges([[2, 0n, 3n]]), // partition 2 holds nothing
        onBatch: () => Promise.resolve(),
      }),
    ).rejects.toThrow(TopicReadError);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('finds the offsets of a time, and the watermarks', async () => {
    await withAdmin(messaging.kafka, async (admin) => {
      const marks = await watermarks(admin, topic.name);
      expect(marks.map((m) => [m.partition, m.low, m.high])).toEqual([
        [0, 0n, 10n],
        [1, 0n, 5n],
        [2, 0n, 0n],
      ]);
      const future = await offsetsAtTimestamp(admin, topic.name, Date.now() + 60_000);
      expect([...future.entries()].sort()).toEqual([
        [0, 10n],
        [1, 5n],
        [2, 0n],
      ]);
      const past = await offsetsAtTimestamp(admin, topic.name, 0);
      expect(past.get(0)).toBe(0n);
    });
  });
});
