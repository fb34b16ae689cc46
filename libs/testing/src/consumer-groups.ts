/**
 * Consumer groups that start at the current end of their topics, set before the consumer joins:
 * a test then sees only what it caused, without the race of `fromBeginning: false` (resolved
 * only once the group has joined) and without kafkajs' `resetOffsets({ earliest: false })`,
 * which commits the marker -1 that a joining consumer reads as "no offset" and so starts from
 * the beginning.
 */
import type { Kafka } from 'kafkajs';
import { waitFor } from './wait-for';

/** `[topic, groupId]` pairs; each group's committed offsets become its topic's end offsets. */
export async function startGroupsAtEnd(
  kafka: Kafka,
  groups: readonly (readonly [topic: string, groupId: string])[],
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const [topic, groupId] of groups) {
      // Retried: right after a topic is created its partitions may have no leader yet
      // (NOT_LEADER_OR_FOLLOWER), which a fresh CI broker shows on the first run.
      const ends = await waitFor(() => admin.fetchTopicOffsets(topic), {
        timeoutMs: 30_000,
        intervalMs: 250,
        description: `the end offsets of ${topic}`,
      });
      await admin.setOffsets({
        groupId,
        topic,
        partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
      });
    }
  } finally {
    await admin.disconnect();
  }
}
