/**
 * Reads fixed offset ranges of Kafka partitions and then stops. The operations tools audit or
 * replay "what was there when I started": end offsets are captured before reading, so a tool
 * never hangs waiting for new records and never acts on records that arrived after the
 * operator looked at the plan.
 *
 * kafkajs has no manual partition assignment, so a consumer group is used: the one whose
 * offsets carry meaning (the replay group) or a throwaway one. Every assigned partition is
 * positioned explicitly on every (re)join — seeked to where this read is, or paused when it
 * has nothing to read — so the group's own position (or the lack of one) never decides what is
 * read. Offsets are never committed implicitly (autoCommit is off; seeking does not commit).
 */
import { describeError, type Logger } from '@ancillary/observability';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { TopicNotFoundError, TopicReadError } from './ops.errors';

/** Offsets `[from, to)` of one partition. */
export interface PartitionRange {
  topic: string;
  partition: number;
  from: bigint;
  to: bigint;
}

/** Records of one partition, in offset order, each within its range and delivered once. */
export interface RangeBatch {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
}

export interface CommitEntry {
  topic: string;
  partition: number;
  /** The next offset to read, as Kafka stores it. */
  offset: string;
  /** Stored with the offset (Kafka limits it, 4096 bytes by default). */
  metadata?: string | null;
}

export interface ReadControl {
  /** Commits offsets (and their metadata) to the reading group, now. */
  commit(entries: CommitEntry[]): Promise<void>;
  /** Ends the read after the current batch; the outcome says it was stopped. */
  stop(): void;
  /** Keeps the group membership alive during long work inside a batch. */
  heartbeat(): Promise<void>;
}

export interface ReadRangesOptions {
  kafka: Kafka;
  groupId: string;
  ranges: readonly PartitionRange[];
  logger: Logger;
  onBatch: (batch: RangeBatch, control: ReadControl) => Promise<void>;
  /**
   * Longest wait for the next record while the end offsets are not reached, ms (default
   * 30 s). Past it the read fails with TopicReadError instead of hanging.
   */
  idleTimeoutMs?: number;
  /** Aborting ends the read after the current batch (e.g. SIGINT). */
  signal?: AbortSignal;
  sessionTimeoutMs?: number;
}

export interface ReadOutcome {
  /** Every range was read to its end. */
  completed: boolean;
  /** stop() was called or the signal aborted before the ends were reached. */
  stopped: boolean;
}

interface PartitionProgress {
  range: PartitionRange;
  next: bigint;
}

function keyOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * Reads every range to its end (or until stopped). `onBatch` runs one partition at a time, in
 * offset order; a failure in it ends the read and is rethrown after the consumer has left.
 */
export async function readPartitionRanges(options: ReadRangesOptions): Promise<ReadOutcome> {
  const { kafka, groupId, logger } = options;
  const progress = new Map<string, PartitionProgress>();
  for (const range of options.ranges) {
    if (range.from < range.to) {
      progress.set(keyOf(range.topic, range.partition), { range, next: range.from });
    }
  }
  if (progress.size === 0) return { completed: true, stopped: false };
  const topics = [...new Set([...progress.values()].map((p) => p.range.topic))];
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;

  const consumer: Consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    // Short fetch waits: the read ends as soon as the last range is done.
    maxWaitTimeInMs: 250,
    sessionTimeout: options.sessionTimeoutMs ?? 10_000,
    heartbeatInterval: 1_000,
  });

  let settled = false;
  let busy = false;
  let lastActivity = Date.now();
  let resolveRead!: (outcome: ReadOutcome) => void;
  let rejectRead!: (error: Error) => void;
  const finished = new Promise<ReadOutcome>((resolve, reject) => {
    resolveRead = resolve;
    rejectRead = reject;
  });
  // A failure may arrive (consumer crash) before the read is awaited; it is rethrown below.
  finished.catch(() => undefined);
  const settle = (outcome: ReadOutcome) => {
    if (settled) return;
    settled = true;
    resolveRead(outcome);
  };
  const fail = (error: Error) => {
    if (settled) return;
    settled = true;
    rejectRead(error);
  };
  const stop = () => {
    settle({ completed: false, stopped: true });
  };
  /** Read through a function: callbacks change it, which the compiler cannot see. */
  const isSettled = () => settled;
  const commit = async (entries: CommitEntry[]) => {
    await consumer.commitOffsets(
      entries.map((e) => ({
        topic: e.topic,
        partition: e.partition,
        offset: e.offset,
        metadata: e.metadata ?? null,
      })),
    );
  };

  /** Puts every assigned partition where this read is: seeked to its next offset, or paused. */
  const position = (assignment: Record<string, number[] | undefined>) => {
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions ?? []) {
        const state = progress.get(keyOf(topic, partition));
        if (state) consumer.seek({ topic, partition, offset: state.next.toString() });
        else consumer.pause([{ topic, partitions: [partition] }]);
      }
    }
  };

  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    lastActivity = Date.now();
    position(event.payload.memberAssignment);
  });
  consumer.on(consumer.events.CRASH, (event) => {
    const { error, restart } = event.payload;
    logger.warn({ groupId, restart, ...describeError(error) }, 'range reader consumer crashed');
    if (!restart) {
      fail(
        new TopicReadError(`reading ${topics.join(', ')} failed: ${error.message}`, {
          cause: error,
        }),
      );
    }
  });

  const onAbort = () => {
    stop();
  };
  options.signal?.addEventListener('abort', onAbort);
  if (options.signal?.aborted) stop();

  const watchdog = setInterval(
    () => {
      if (busy || settled || Date.now() - lastActivity < idleTimeoutMs) return;
      const behind = [...progress.values()]
        .map(
          (p) => `${p.range.topic}[${p.range.partition}] at ${p.next} of end offset ${p.range.to}`,
        )
        .join(', ');
      fail(
        new TopicReadError(
          `no record arrived for ${idleTimeoutMs} ms before the end offsets were reached: ${behind}`,
        ),
      );
    },
    Math.min(1_000, idleTimeoutMs),
  );

  try {
    if (!isSettled()) {
      await consumer.connect();
      for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: false });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async (payload) => {
          const { batch } = payload;
          if (isSettled() || payload.isStale() || !payload.isRunning()) return;
          const key = keyOf(batch.topic, batch.partition);
          const state = progress.get(key);
          if (!state) return;
          lastActivity = Date.now();
          const messages = batch.messages.filter((m) => {
            const offset = BigInt(m.offset);
            return offset >= state.next && offset < state.range.to;
          });
          const last = messages.at(-1);
          if (last) {
            busy = true;
            try {
              await options.onBatch(
                { topic: batch.topic, partition: batch.partition, messages },
                { commit, stop, heartbeat: () => payload.heartbeat() },
              );
            } catch (error) {
              fail(error instanceof Error ? error : new Error(String(error)));
              return;
            } finally {
              busy = false;
              lastActivity = Date.now();
            }
            state.next = BigInt(last.offset) + 1n;
          }
          // Every record of the batch is handled or deliberately skipped: move the fetch on.
          // Without it (eachBatchAutoResolve is off) kafkajs fetches from the same offset again,
          // and a range longer than one fetch (1 MB per partition) is never read to its end.
          const tail = batch.messages.at(-1);
          if (tail) payload.resolveOffset(tail.offset);
          if (state.next >= state.range.to) {
            progress.delete(key);
            consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
            if (progress.size === 0) settle({ completed: true, stopped: false });
          }
          if (!isSettled()) await payload.heartbeat();
        },
      });
    }
    return await finished;
  } catch (error) {
    if (error instanceof TopicReadError) throw error;
    throw new TopicReadError(
      `reading ${topics.join(', ')} with group ${groupId} failed: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    clearInterval(watchdog);
    options.signal?.removeEventListener('abort', onAbort);
    if (!isSettled()) settle({ completed: false, stopped: true });
    await consumer.disconnect().catch((error: unknown) => {
      logger.warn({ groupId, ...describeError(error) }, 'range reader did not disconnect cleanly');
    });
  }
}

/** Low and high watermark of one partition. */
export interface PartitionWatermarks {
  partition: number;
  low: bigint;
  high: bigint;
}

/** Runs `work` with a connected admin client, always disconnecting it. */
export async function withAdmin<T>(kafka: Kafka, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Fails with TopicNotFoundError naming every topic that does not exist. */
/**
 * Deletes the throwaway group a read used. A read with nothing to read never creates its group,
 * so "group id not found" is the expected answer then, not a problem worth a warning.
 */
export async function deleteReadGroup(
  kafka: Kafka,
  groupId: string,
  logger: Logger,
  what: string,
): Promise<void> {
  try {
    await withAdmin(kafka, (admin) => admin.deleteGroups([groupId]));
  } catch (error) {
    const groups = (error as { groups?: { error?: { type?: string } }[] }).groups ?? [];
    if (groups.length > 0 && groups.every((g) => g.error?.type === 'GROUP_ID_NOT_FOUND')) return;
    logger.warn(
      { groupId, ...describeError(error) },
      `could not delete the ${what} consumer group`,
    );
  }
}

export async function assertTopicsExist(admin: Admin, topics: readonly string[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length > 0) {
    throw new TopicNotFoundError(`topic(s) not found on the cluster: ${missing.join(', ')}`);
  }
}

/** The watermarks of every partition of `topic`, in partition order. */
export async function watermarks(admin: Admin, topic: string): Promise<PartitionWatermarks[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets
    .map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }))
    .sort((a, b) => a.partition - b.partition);
}

/**
 * Per partition, the first offset whose record timestamp is at or after `timestamp` (the high
 * watermark when there is none): Kafka's ListOffsets by time.
 */
export async function offsetsAtTimestamp(
  admin: Admin,
  topic: string,
  timestamp: number,
): Promise<Map<number, bigint>> {
  const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
  return new Map(offsets.map((o) => [o.partition, BigInt(o.offset)]));
}
