/**
 * Replays dead letters: re-publishes records of `<topic>.dlt` to `<topic>` once the cause is
 * fixed (a mapping added, a bug deployed away), with the same key, the same value bytes and
 * the original headers (provenance removed, `x-replayed-from` and `x-replay-count` added).
 *
 * Guarantees:
 * - Each dead letter is replayed at most once by default. The replay group `ops.replay.<dlt>`
 *   remembers what was replayed (see ReplayState) and is committed only after Kafka
 *   acknowledged the republished records (acks=all, idempotent producer). A crash between the
 *   acknowledgement and the commit can replay those records once more; every consumer of the
 *   platform is idempotent on the message identity, so that changes nothing in the chart.
 * - A run reads to the end offsets captured when it started, then stops.
 * - Records are republished in their dead-letter order, so one patient's messages keep their order.
 * - Records are only ever sent back to the topic they came from (the dead-letter topic's own
 *   source); a dead letter naming another topic is refused, never forwarded.
 * - With `confirm`, nothing is published before the plan (what would be replayed) was shown
 *   and accepted (ARCHITECTURE.md: "every replay shows what it will send and asks before it does").
 */
import { counter, type Logger } from '@ancillary/observability';
import type { MessageProducer, RawRecord } from '@ancillary/messaging-kafka';
import type { Kafka } from 'kafkajs';
import { readDeadLetter, replayHeaders, type DeadLetterRecord } from '../dead-letter.record';
import { InvalidOpsOptionsError, ReplayInProgressError } from '../ops.errors';
import { ReplayState } from './replay-state';
import {
  assertTopicsExist,
  readPartitionRanges,
  watermarks,
  withAdmin,
  type PartitionRange,
} from '../topic-range.reader';

const DLT_SUFFIX = '.dlt';

/** Which dead letters to replay; a record must match every criterion given. */
export interface ReplayFilter {
  /** Dead-lettered at or after (the dead letter's record timestamp). */
  since?: Date;
  /** Dead-lettered before. */
  until?: Date;
  /** MSH-10 of the message (header x-hl7-message-control-id). */
  controlIds?: readonly string[];
  /** x-dlt-error-code, e.g. UNMAPPED_CODE. */
  errorCodes?: readonly string[];
  /** x-dlt-error-class, e.g. UnmappedCodeError. */
  errorClasses?: readonly string[];
}

export interface ReplayOptions {
  kafka: Kafka;
  /** Publishes the replays (sendRaw: acks=all, idempotent); connected on demand. */
  producer: MessageProducer;
  logger: Logger;
  /** The dead-letter topic, `<topic>.dlt`. */
  deadLetterTopic: string;
  filter?: ReplayFilter;
  /** Replay at most this many records in this run. */
  limit?: number;
  /** Re-read from the beginning of the dead-letter topic, replaying again what was replayed before. */
  all?: boolean;
  /** Only list what would be replayed (onPlanned); nothing is published or committed. */
  dryRun?: boolean;
  /** Default `ops.replay.<dlt>`. */
  groupId?: string;
  /**
   * Asked with the plan before anything is published; resolving false ends the run (declined).
   * Without it the run replays at once (a caller that already confirmed, or tests).
   */
  confirm?: (plan: ReplayPlan) => Promise<boolean>;
  /** Each record the plan (or the dry run) would replay, in order. */
  onPlanned?: (record: DeadLetterRecord) => void;
  onProgress?: (progress: ReplayProgress) => void;
  /** Default 1000 ms. */
  progressIntervalMs?: number;
  /** Records per publish request (and per commit); default 100. */
  batchSize?: number;
  /** See ReadRangesOptions.idleTimeoutMs. */
  idleTimeoutMs?: number;
  /** Aborting stops after the records in hand are published and committed. */
  signal?: AbortSignal;
}

export interface ReplayPlan {
  deadLetterTopic: string;
  targetTopic: string;
  groupId: string;
  /** What is read, per partition: offsets [from, to). */
  partitions: { partition: number; from: string; to: string }[];
  /** Records the run will replay (limit applied). */
  toReplay: number;
  alreadyReplayed: number;
  skippedByFilter: number;
  /** Records that cannot be replayed (no or foreign original topic), with the reason. */
  invalid: ReplayFailure[];
  byErrorCode: Record<string, number>;
  firstDeadLetteredAt?: Date;
  lastDeadLetteredAt?: Date;
}

export interface ReplayProgress {
  examined: number;
  replayed: number;
  /** Records the run means to replay, when a plan was made. */
  planned?: number;
  elapsedMs: number;
  /** Replayed records per second so far. */
  ratePerSecond: number;
}

export type ReplayFailureCode = 'NO_ORIGINAL_TOPIC' | 'FOREIGN_ORIGINAL_TOPIC' | 'PUBLISH_FAILED';

export interface ReplayFailure {
  partition: number;
  offset: string;
  messageControlId?: string;
  code: ReplayFailureCode;
  reason: string;
}

/** Why the run ended. */
export type ReplayStopReason =
  'completed' | 'limit' | 'aborted' | 'declined' | 'state-full' | 'publish-failed';

export interface ReplayReport {
  deadLetterTopic: string;
  targetTopic: string;
  groupId: string;
  dryRun: boolean;
  stopReason: ReplayStopReason;
  /** Records read and judged. */
  examined: number;
  replayed: number;
  /** Dry run: records that would have been replayed. */
  wouldReplay: number;
  alreadyReplayed: number;
  skippedByFilter: number;
  failed: number;
  failures: ReplayFailure[];
  /** Dead letters deleted by retention before anyone replayed them. */
  expiredUnreplayed: number;
  plan?: ReplayPlan;
  durationMs: number;
}

/** The replay group of a dead-letter topic: its committed state is what was replayed. */
export function replayGroupOf(deadLetterTopic: string): string {
  return `ops.replay.${deadLetterTopic}`;
}

type Verdict =
  | { kind: 'replay' }
  | { kind: 'already' }
  | { kind: 'filtered' }
  | { kind: 'invalid'; code: ReplayFailureCode; reason: string };

const replayedCounter = counter(
  'ancillary_ops_replayed_total',
  'Dead letters republished to their original topic',
  ['topic'],
);
const replayFailures = counter(
  'ancillary_ops_replay_failures_total',
  'Dead letters that could not be replayed',
  ['topic', 'code'],
);

export async function replayDeadLetters(options: ReplayOptions): Promise<ReplayReport> {
  const started = Date.now();
  const { kafka, logger, deadLetterTopic } = options;
  const targetTopic = validate(options);
  const groupId = options.groupId ?? replayGroupOf(deadLetterTopic);
  const batchSize = options.batchSize ?? 100;
  const limit = options.limit ?? Infinity;
  const filter = compileFilter(options.filter ?? {});
  const log = logger.child({ deadLetterTopic, targetTopic, groupId });

  const setup = await withAdmin(kafka, async (admin) => {
    await assertTopicsExist(admin, [deadLetterTopic, targetTopic]);
    await assertGroupIdle(kafka, groupId);
    const marks = await watermarks(admin, deadLetterTopic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [deadLetterTopic] });
    const states = new Map<number, ReplayState>();
    const ranges: PartitionRange[] = [];
    let expired = 0n;
    for (const { partition, low, high } of marks) {
      const entry = committed?.partitions.find((p) => p.partition === partition);
      const state = ReplayState.fromCommit(
        entry?.offset,
        entry?.metadata,
        low,
        `${groupId} ${deadLetterTopic}[${partition}]`,
      );
      expired += state.forgetBelow(low);
      states.set(partition, state);
      ranges.push({
        topic: deadLetterTopic,
        partition,
        from: options.all ? low : state.cursor,
        to: high,
      });
    }
    return { states, ranges, expired: Number(expired) };
  });
  if (setup.expired > 0) {
    log.warn(
      { expiredUnreplayed: setup.expired },
      'dead letters were deleted by retention before they were replayed',
    );
  }

  const report: ReplayReport = {
    deadLetterTopic,
    targetTopic,
    groupId,
    dryRun: options.dryRun ?? false,
    stopReason: 'completed',
    examined: 0,
    replayed: 0,
    wouldReplay: 0,
    alreadyReplayed: 0,
    skippedByFilter: 0,
    failed: 0,
    failures: [],
    expiredUnreplayed: setup.expired,
    durationMs: 0,
  };
  const finish = () => {
    report.durationMs = Date.now() - started;
    log.info(
      {
        stopReason: report.stopReason,
        replayed: report.replayed,
        wouldReplay: report.wouldReplay,
        alreadyReplayed: report.alreadyReplayed,
        skippedByFilter: report.skippedByFilter,
        failed: report.failed,
      },
      'dead-letter replay finished',
    );
    return report;
  };

  const judge = (record: DeadLetterRecord, state: ReplayState): Verdict => {
    if (!options.all && state.has(BigInt(record.offset))) return { kind: 'already' };
    if (!filter(record)) return { kind: 'filtered' };
    if (record.originalTopic === undefined) {
      return {
        kind: 'invalid',
        code: 'NO_ORIGINAL_TOPIC',
        reason: 'the dead letter has no x-dlt-original-topic header',
      };
    }
    if (record.originalTopic !== targetTopic) {
      return {
        kind: 'invalid',
        code: 'FOREIGN_ORIGINAL_TOPIC',
        reason: `the dead letter names ${record.originalTopic} as its topic, not ${targetTopic}; it is not sent there`,
      };
    }
    return { kind: 'replay' };
  };

  // The plan: the same judgement as the replay, on copies of the state, nothing sent.
  const confirm = options.confirm;
  if (options.dryRun || confirm) {
    const plan = await makePlan(
      options,
      groupId,
      targetTopic,
      setup.ranges,
      setup.states,
      judge,
      limit,
    );
    report.plan = plan;
    if (options.dryRun) {
      report.examined =
        plan.toReplay + plan.alreadyReplayed + plan.skippedByFilter + plan.invalid.length;
      report.wouldReplay = plan.toReplay;
      report.alreadyReplayed = plan.alreadyReplayed;
      report.skippedByFilter = plan.skippedByFilter;
      // A dry run reports the records a real run would fail on, so that it fails the same way.
      report.failures = plan.invalid;
      report.failed = plan.invalid.length;
      return finish();
    }
    if (plan.toReplay === 0 && plan.invalid.length === 0) {
      report.alreadyReplayed = plan.alreadyReplayed;
      report.skippedByFilter = plan.skippedByFilter;
      report.examined = plan.alreadyReplayed + plan.skippedByFilter;
      return finish();
    }
    if (confirm && !(await confirm(plan))) {
      report.stopReason = 'declined';
      return finish();
    }
    // Time has passed while a person read the plan: make sure no other replay started.
    await assertGroupIdle(kafka, groupId);
  }

  await options.producer.connect();
  const progressInterval = options.progressIntervalMs ?? 1_000;
  // The rate counts from here: the plan and a person's answer are not replay time.
  const replayStarted = Date.now();
  let lastProgress = 0;
  const progress = (force: boolean) => {
    if (!options.onProgress) return;
    const now = Date.now();
    if (!force && now - lastProgress < progressInterval) return;
    lastProgress = now;
    const elapsedMs = now - replayStarted;
    options.onProgress({
      examined: report.examined,
      replayed: report.replayed,
      ...(report.plan ? { planned: report.plan.toReplay } : {}),
      elapsedMs,
      ratePerSecond: elapsedMs > 0 ? (report.replayed * 1000) / elapsedMs : 0,
    });
  };

  const fail = (record: DeadLetterRecord, code: ReplayFailureCode, reason: string) => {
    report.failed++;
    report.failures.push(failureOf(record, code, reason));
    replayFailures.inc({ topic: deadLetterTopic, code });
    log.error(
      {
        partition: record.partition,
        offset: record.offset,
        messageControlId: record.messageControlId,
        failureCode: code,
        reason,
      },
      'dead letter not replayed',
    );
  };

  const outcome = await readPartitionRanges({
    kafka,
    groupId,
    ranges: setup.ranges,
    logger: log,
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onBatch: async ({ partition, messages }, control) => {
      /** What is committed for this partition. */
      let state = stateOf(setup.states, partition);
      /** The committed state plus the records in hand (sent together, recorded together). */
      let staged = state.copy();
      let chunk: DeadLetterRecord[] = [];

      /** Publishes the chunk, then records and commits it; false when the publish failed. */
      const flush = async (): Promise<boolean> => {
        if (chunk.length === 0) return true;
        const records: RawRecord[] = chunk.map((r) => ({
          key: r.key,
          value: r.value,
          headers: replayHeaders(r),
        }));
        try {
          await options.producer.sendRaw(targetTopic, records);
        } catch (error) {
          // Not acknowledged: nothing of the chunk is recorded as replayed, and the run stops
          // so that later records of the same patients cannot overtake these ones.
          const reason = error instanceof Error ? error.message : String(error);
          for (const record of chunk) fail(record, 'PUBLISH_FAILED', reason);
          chunk = [];
          report.stopReason = 'publish-failed';
          control.stop();
          return false;
        }
        report.replayed += chunk.length;
        replayedCounter.inc({ topic: targetTopic }, chunk.length);
        chunk = [];
        state = staged;
        setup.states.set(partition, state);
        staged = state.copy();
        await control.commit([
          {
            topic: deadLetterTopic,
            partition,
            offset: state.cursor.toString(),
            metadata: state.encode(),
          },
        ]);
        progress(false);
        return true;
      };

      for (const message of messages) {
        if (options.signal?.aborted) {
          report.stopReason = 'aborted';
          break;
        }
        const record = readDeadLetter(deadLetterTopic, partition, message);
        const verdict = judge(record, state);
        if (verdict.kind === 'replay') {
          const offset = BigInt(record.offset);
          if (report.replayed + chunk.length >= limit) {
            report.stopReason = 'limit';
            break;
          }
          if (!staged.fitsAfterAdding(offset)) {
            report.stopReason = 'state-full';
            break;
          }
          staged.add(offset);
          chunk.push(record);
        }
        report.examined++;
        switch (verdict.kind) {
          case 'replay':
            if (chunk.length >= batchSize && !(await flush())) return;
            break;
          case 'already':
            report.alreadyReplayed++;
            break;
          case 'filtered':
            report.skippedByFilter++;
            break;
          case 'invalid':
            fail(record, verdict.code, verdict.reason);
            break;
        }
        progress(false);
      }
      if (!(await flush())) return;
      if (report.stopReason !== 'completed') control.stop();
      else await control.heartbeat();
    },
  });
  if (outcome.stopped && report.stopReason === 'completed') report.stopReason = 'aborted';
  progress(true);
  return finish();
}

async function makePlan(
  options: ReplayOptions,
  groupId: string,
  targetTopic: string,
  ranges: PartitionRange[],
  states: Map<number, ReplayState>,
  judge: (record: DeadLetterRecord, state: ReplayState) => Verdict,
  limit: number,
): Promise<ReplayPlan> {
  const plan: ReplayPlan = {
    deadLetterTopic: options.deadLetterTopic,
    targetTopic,
    groupId,
    partitions: ranges.map((r) => ({
      partition: r.partition,
      from: r.from.toString(),
      to: r.to.toString(),
    })),
    toReplay: 0,
    alreadyReplayed: 0,
    skippedByFilter: 0,
    invalid: [],
    byErrorCode: {},
  };
  const simulated = new Map([...states].map(([p, s]) => [p, s.copy()]));
  await readPartitionRanges({
    kafka: options.kafka,
    groupId,
    ranges,
    logger: options.logger,
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onBatch: ({ partition, messages }, control) => {
      const state = stateOf(simulated, partition);
      for (const message of messages) {
        const record = readDeadLetter(options.deadLetterTopic, partition, message);
        const verdict = judge(record, state);
        switch (verdict.kind) {
          case 'replay': {
            const offset = BigInt(record.offset);
            if (plan.toReplay >= limit || !state.fitsAfterAdding(offset)) {
              control.stop();
              return Promise.resolve();
            }
            state.add(offset);
            plan.toReplay++;
            const code = record.errorCode ?? '(none)';
            plan.byErrorCode[code] = (plan.byErrorCode[code] ?? 0) + 1;
            if (!plan.firstDeadLetteredAt || record.timestamp < plan.firstDeadLetteredAt) {
              plan.firstDeadLetteredAt = record.timestamp;
            }
            if (!plan.lastDeadLetteredAt || record.timestamp > plan.lastDeadLetteredAt) {
              plan.lastDeadLetteredAt = record.timestamp;
            }
            options.onPlanned?.(record);
            break;
          }
          case 'already':
            plan.alreadyReplayed++;
            break;
          case 'filtered':
            plan.skippedByFilter++;
            break;
          case 'invalid':
            plan.invalid.push(failureOf(record, verdict.code, verdict.reason));
            break;
        }
      }
      return Promise.resolve();
    },
  });
  return plan;
}

/** The state of a partition read in this run (ranges are only built for known partitions). */
function stateOf(states: Map<number, ReplayState>, partition: number): ReplayState {
  const state = states.get(partition);
  if (!state)
    throw new Error(`no replay state for partition ${partition}: it was not read at start`);
  return state;
}

function failureOf(
  record: DeadLetterRecord,
  code: ReplayFailureCode,
  reason: string,
): ReplayFailure {
  return {
    partition: record.partition,
    offset: record.offset,
    ...(record.messageControlId !== undefined ? { messageControlId: record.messageControlId } : {}),
    code,
    reason,
  };
}

/** Refuses to run while another replay (or anything else) is a member of the replay group. */
async function assertGroupIdle(kafka: Kafka, groupId: string): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups.find((g) => g.groupId === groupId);
    if (group && group.members.length > 0) {
      throw new ReplayInProgressError(
        `consumer group ${groupId} has ${group.members.length} active member(s) (state ${group.state}): ` +
          'another replay of this dead-letter topic is running, or one was killed less than a session timeout (10 s) ago',
      );
    }
  });
}

function validate(options: ReplayOptions): string {
  const { deadLetterTopic, limit, batchSize, filter } = options;
  if (!deadLetterTopic.endsWith(DLT_SUFFIX) || deadLetterTopic.length <= DLT_SUFFIX.length) {
    throw new InvalidOpsOptionsError(
      `${deadLetterTopic} is not a dead-letter topic (<topic>${DLT_SUFFIX})`,
    );
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new InvalidOpsOptionsError(`limit must be a positive integer, got ${limit}`);
  }
  if (
    batchSize !== undefined &&
    (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1_000)
  ) {
    throw new InvalidOpsOptionsError(
      `batchSize must be an integer from 1 to 1000, got ${batchSize}`,
    );
  }
  for (const [name, date] of [
    ['since', filter?.since],
    ['until', filter?.until],
  ] as const) {
    if (date && Number.isNaN(date.getTime())) {
      throw new InvalidOpsOptionsError(`${name} is not a valid time`);
    }
  }
  if (filter?.since && filter.until && filter.since >= filter.until) {
    throw new InvalidOpsOptionsError(
      `since (${filter.since.toISOString()}) must be before until (${filter.until.toISOString()})`,
    );
  }
  return deadLetterTopic.slice(0, -DLT_SUFFIX.length);
}

/** One predicate for all criteria; an empty list means "any". */
function compileFilter(filter: ReplayFilter): (record: DeadLetterRecord) => boolean {
  const set = (values: readonly string[] | undefined) =>
    values && values.length > 0 ? new Set(values) : undefined;
  const controlIds = set(filter.controlIds);
  const errorCodes = set(filter.errorCodes);
  const errorClasses = set(filter.errorClasses);
  return (record) =>
    (!filter.since || record.timestamp >= filter.since) &&
    (!filter.until || record.timestamp < filter.until) &&
    (!controlIds ||
      (record.messageControlId !== undefined && controlIds.has(record.messageControlId))) &&
    (!errorCodes || (record.errorCode !== undefined && errorCodes.has(record.errorCode))) &&
    (!errorClasses || (record.errorClass !== undefined && errorClasses.has(record.errorClass)));
}
