/**
 * Kafka helpers for the ops integration tests: read a topic's records with a plain consumer
 * (not with the code under test), count what a topic holds, and dead-letter records with the
 * platform's own DeadLetterPublisher, the way a failing service does.
 */
import type { RawHl7Envelope } from '@ancillary/contracts';
import { newMessageContext, PermanentError, type Messaging } from '@ancillary/messaging-kafka';
import type { TopicDefinition } from '@ancillary/contracts';
import { uniqueName, waitFor } from '@ancillary/testing';
import type { Kafka, KafkaMessage } from 'kafkajs';

export interface ReadRecord {
  partition: number;
  message: KafkaMessage;
}

/** Every record of `topicName` once at least `expected` arrived, in partition/offset order. */
export async function readRecords(
  kafka: Kafka,
  topicName: string,
  expected: number,
): Promise<ReadRecord[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('ops-test-reader'), maxWaitTimeInMs: 100 });
  const seen: ReadRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: topicName, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ partition, message }) => {
      seen.push({ partition, message });
      return Promise.resolve();
    },
  });
  try {
    await waitFor(() => seen.length >= expected, {
      description: `${expected} records on ${topicName}`,
    });
    return seen.sort(
      (a, b) =>
        a.partition - b.partition || Number(BigInt(a.message.offset) - BigInt(b.message.offset)),
    );
  } finally {
    await consumer.disconnect();
  }
}

/** How many records the topic holds right now (high minus low watermark, all partitions). */
export async function recordCount(kafka: Kafka, topicName: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topicName);
    return offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** The committed offset and metadata of a group on partition 0 of a topic. */
export async function committed(
  kafka: Kafka,
  groupId: string,
  topicName: string,
): Promise<{ offset: string; metadata: string | null } | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [result] = await admin.fetchOffsets({ groupId, topics: [topicName] });
    const partition = result?.partitions.find((p) => p.partition === 0);
    return partition ? { offset: partition.offset, metadata: partition.metadata } : undefined;
  } finally {
    await admin.disconnect();
  }
}

export async function deleteGroups(kafka: Kafka, groupIds: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteGroups(groupIds).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/** A permanent failure with its own code, as the normalizer's unmapped-code error has. */
export class TestMappingError extends PermanentError {
  override readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

export interface DeadLetterSpec {
  envelope: RawHl7Envelope;
  /** Error code written to x-dlt-error-code. */
  code: string;
  reason: string;
}

/** Publishes a value the way a service does (Avro, headers from the message context). */
export async function publishValue(
  messaging: Messaging,
  topic: TopicDefinition,
  value: unknown,
  identity: { messageControlId: string; sourceSystem: string },
): Promise<void> {
  await messaging.producer.publish(topic, {
    key: identity.messageControlId,
    value,
    context: newMessageContext(identity),
  });
}

/** Reads back the newest record of a message (by its control id header) and dead-letters it. */
export async function deadLetterLatest(
  messaging: Messaging,
  topic: TopicDefinition,
  messageControlId: string,
  code: string,
  reason: string,
): Promise<ReadRecord> {
  const all = await readRecords(
    messaging.kafka,
    topic.name,
    await recordCount(messaging.kafka, topic.name),
  );
  const record = all
    .filter((r) => r.message.headers?.['x-hl7-message-control-id']?.toString() === messageControlId)
    .at(-1);
  if (!record) throw new Error(`${messageControlId} not found on ${topic.name}`);
  await messaging.deadLetters.publish(
    { topic: topic.name, partition: record.partition, message: record.message },
    new TestMappingError(reason, code),
    1,
  );
  return record;
}

/**
 * Publishes each envelope to `topic`, reads it back, and dead-letters it through the
 * platform's DeadLetterPublisher with the given error: real records, real provenance.
 */
export async function publishAndDeadLetter(
  messaging: Messaging,
  topic: TopicDefinition,
  specs: readonly DeadLetterSpec[],
): Promise<ReadRecord[]> {
  for (const spec of specs) await publishValue(messaging, topic, spec.envelope, spec.envelope);
  const records: ReadRecord[] = [];
  for (const spec of specs) {
    records.push(
      await deadLetterLatest(
        messaging,
        topic,
        spec.envelope.messageControlId,
        spec.code,
        spec.reason,
      ),
    );
  }
  return records;
}
