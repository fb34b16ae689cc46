/**
 * Reads a topic from the beginning with a throw-away consumer group until a condition holds —
 * for assertions on what a service published (no mocks: the real records on the real broker).
 */
import type { Kafka, KafkaMessage } from 'kafkajs';
import { uniqueName } from './names';
import { waitFor } from './wait-for';

export interface ReadTopicOptions {
  /** Stop once this holds for the records read so far. */
  until: (records: readonly KafkaMessage[]) => boolean;
  description?: string;
  /** Default 30 s. */
  timeoutMs?: number;
  /** Keep reading this long after `until` held, to see that nothing more arrives; default 0. */
  settleMs?: number;
}

export async function readTopic(
  kafka: Kafka,
  topic: string,
  options: ReadTopicOptions,
): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 100 });
  const records: KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message }) => {
        records.push(message);
        return Promise.resolve();
      },
    });
    await waitFor(() => options.until(records), {
      timeoutMs: options.timeoutMs ?? 30_000,
      description: options.description ?? `records on ${topic}`,
    });
    if (options.settleMs) await new Promise((resolve) => setTimeout(resolve, options.settleMs));
    return [...records];
  } finally {
    await consumer.disconnect();
  }
}
