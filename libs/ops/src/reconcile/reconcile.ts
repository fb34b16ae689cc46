/**
 * The go-live audit: for every message (or a random sample) that reached the lab inbound topic
 * in a time window, is it in the patient chart, or in a dead-letter topic with its reason?
 * Anything else is MISSING — the discrepancy an interface team must explain before cut-over
 * (and the judge of the kill -9 tests).
 *
 * How: the dead-letter topics are indexed first, then the inbound topic is read from the
 * offsets of the window start (ListOffsets by time) to the end offsets captured when the audit
 * started; each message's expected LabResult event ids (one per OBR group) are checked against
 * the ehr-writer's ledger and resource history in batches (ANY($1)), never one query per message.
 *
 * Record timestamps are producer clocks, so the topics are read `clockSkewMs` beyond each end
 * of the window; records outside the window are only used to tell whether a ledger row's
 * message is on the topic at all.
 */
import {
  deadLetterTopicOf,
  LabResultContract,
  MessageHeaders,
  RawHl7EnvelopeContract,
  Topics,
  type LabResult,
  type RawHl7Envelope,
} from '@ancillary/contracts';
import { headersToStrings, SchemaViolationError, type AvroCodec } from '@ancillary/messaging-kafka';
import { counter, type Logger } from '@ancillary/observability';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { readDeadLetter, ReplayHeaders } from '../dead-letter.record';
import { InvalidOpsOptionsError } from '../ops.errors';
import {
  assertTopicsExist,
  deleteReadGroup,
  offsetsAtTimestamp,
  readPartitionRanges,
  watermarks,
  withAdmin,
  type PartitionRange,
} from '../topic-range.reader';
import { ChartLedger, type LedgerMessageRow } from './chart.ledger';
import { DeadLetterIndex } from './dead-letter.index';
import { expectedResults, identityOf, type InboundMessage } from './inbound-message';
import { classifyMessage, type AuditedMessage, type MessageClass } from './message.classifier';

export interface ReconcileTopics {
  /** The lab inbound topic (RawHl7Envelope values). */
  inbound: string;
  /** Where the normalizer dead-letters inbound messages. */
  inboundDeadLetters: string;
  /** Where the ehr-writer dead-letters LabResults. */
  resultsDeadLetters: string;
}

export const DEFAULT_RECONCILE_TOPICS: ReconcileTopics = {
  inbound: Topics.labHl7Inbound.name,
  inboundDeadLetters: deadLetterTopicOf(Topics.labHl7Inbound.name),
  resultsDeadLetters: deadLetterTopicOf(Topics.clinicalResults.name),
};

export interface ReconcileOptions {
  kafka: Kafka;
  /** Decodes envelopes and dead-lettered LabResults through the schema registry. */
  codec: AvroCodec;
  /** The clinical repository (fhir.message_ledger, fhir.resource_history). */
  pool: Pool;
  logger: Logger;
  /** Window start: record timestamps at or after it. */
  since: Date;
  /** Window end (exclusive); default: everything on the topic when the audit starts. */
  until?: Date;
  /** Audit this many messages picked at random from the window instead of all of them. */
  sample?: number;
  /** Audit only the messages of this ancillary connection. */
  sourceSystem?: string;
  /** The catalogue's topics by default; tests pass their own. */
  topics?: Partial<ReconcileTopics>;
  /** Random numbers in [0, 1) for the sample (default Math.random). */
  random?: () => number;
  /** How far record timestamps may stray from the gateway's clock, ms (default 60 s). */
  clockSkewMs?: number;
  /** See ReadRangesOptions.idleTimeoutMs. */
  idleTimeoutMs?: number;
  /** Messages checked against the database per query pair (default 500). */
  chunkSize?: number;
  /** Longest list kept for the informational findings (counts stay complete); default 1000. */
  listLimit?: number;
}

export interface RecordRef {
  partition: number;
  offset: string;
  timestamp: Date;
}

export interface DuplicateMessage {
  sourceSystem: string;
  messageControlId: string;
  records: RecordRef[];
}

export interface ReconcileReport {
  topics: ReconcileTopics;
  since: Date;
  until?: Date;
  sourceSystem?: string;
  sample?: number;
  startedAt: Date;
  durationMs: number;
  /** Inbound records read, window margins included. */
  recordsRead: number;
  /** Messages on the inbound topic in the window (replays not counted). */
  messagesInWindow: number;
  /** Messages judged: all of the window, or the sample. */
  examined: number;
  counts: Record<MessageClass, number>;
  notAResultByType: Record<string, number>;
  /** The discrepancy table. */
  missing: AuditedMessage[];
  deadLettered: AuditedMessage[];
  replayed: AuditedMessage[];
  /** Records on the inbound topic in the window that are replays of dead letters. */
  replayRecords: number;
  /** Informational: the same source system + MSH-10 more than once in the window. */
  duplicates: DuplicateMessage[];
  duplicatesTotal: number;
  /** Informational: ledger rows received in the window whose message is not on the topic. */
  ledgerRowsWithoutMessage: LedgerMessageRow[];
  ledgerRowsWithoutMessageTotal: number;
  /** Dead letters read from both dead-letter topics. */
  deadLettersIndexed: number;
  /** Nothing is MISSING. */
  ok: boolean;
}

/** An inbound record in the window, decoded, waiting to be judged. */
interface Candidate {
  meta: InboundMessage;
  envelope?: RawHl7Envelope;
}

const auditedCounter = counter(
  'ancillary_ops_reconcile_messages_total',
  'Inbound messages judged by the reconcile audit, by class',
  ['class'],
);

export async function reconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  const startedAt = new Date();
  validate(options);
  const { kafka, codec, logger, since, until } = options;
  const topics: ReconcileTopics = { ...DEFAULT_RECONCILE_TOPICS, ...options.topics };
  const skew = options.clockSkewMs ?? 60_000;
  const chunkSize = options.chunkSize ?? 500;
  const listLimit = options.listLimit ?? 1_000;
  const random = options.random ?? Math.random;
  const ledger = new ChartLedger(options.pool);
  const groupId = `ops.reconcile.${randomUUID()}`;
  const log = logger.child({ groupId, inbound: topics.inbound });
  const readerOptions = {
    kafka,
    groupId,
    logger: log,
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
  };

  const { inboundRanges, deadLetterRanges } = await withAdmin(kafka, async (admin) => {
    await assertTopicsExist(admin, [
      topics.inbound,
      topics.inboundDeadLetters,
      topics.resultsDeadLetters,
    ]);
    const rangesOf = async (topic: string, end?: Date): Promise<PartitionRange[]> => {
      // End offsets first: whatever arrives after this moment is not part of the audit.
      const marks = await watermarks(admin, topic);
      const start = await offsetsAtTimestamp(admin, topic, since.getTime() - skew);
      const stop = end ? await offsetsAtTimestamp(admin, topic, end.getTime() + skew) : undefined;
      return marks.map(({ partition, high }) => {
        const to = stop?.get(partition) ?? high;
        return {
          topic,
          partition,
          from: start.get(partition) ?? high,
          to: to < high ? to : high,
        };
      });
    };
    return {
      inboundRanges: await rangesOf(topics.inbound, until),
      // Dead letters are written after the message arrived: read from the window start on.
      deadLetterRanges: [
        ...(await rangesOf(topics.inboundDeadLetters)),
        ...(await rangesOf(topics.resultsDeadLetters)),
      ],
    };
  });
  log.info({ since, until, sample: options.sample }, 'reconcile started');

  const report: ReconcileReport = {
    topics,
    since,
    ...(until ? { until } : {}),
    ...(options.sourceSystem !== undefined ? { sourceSystem: options.sourceSystem } : {}),
    ...(options.sample !== undefined ? { sample: options.sample } : {}),
    startedAt,
    durationMs: 0,
    recordsRead: 0,
    messagesInWindow: 0,
    examined: 0,
    counts: { 'in-chart': 0, replayed: 0, 'dead-lettered': 0, 'not-a-result': 0, missing: 0 },
    notAResultByType: {},
    missing: [],
    deadLettered: [],
    replayed: [],
    replayRecords: 0,
    duplicates: [],
    duplicatesTotal: 0,
    ledgerRowsWithoutMessage: [],
    ledgerRowsWithoutMessageTotal: 0,
    deadLettersIndexed: 0,
    ok: false,
  };

  try {
    // 1. Dead letters.
    const deadLetters = new DeadLetterIndex();
    await readPartitionRanges({
      ...readerOptions,
      ranges: deadLetterRanges,
      onBatch: async ({ topic, partition, messages }) => {
        for (const message of messages) {
          const record = readDeadLetter(topic, partition, message);
          if (topic === topics.inboundDeadLetters) {
            deadLetters.addInbound(record);
            continue;
          }
          try {
            const result = await codec.decode<LabResult>(LabResultContract, record.value);
            deadLetters.addResult(record, {
              eventId: result.eventId,
              orderIndex: result.orderIndex,
              sourceSystem: result.sourceSystem,
              messageControlId: result.messageControlId,
            });
          } catch (error) {
            // A dead letter whose value is not a LabResult still names its message in headers.
            if (!(error instanceof SchemaViolationError)) throw error;
            deadLetters.addResult(record);
          }
        }
      },
    });
    report.deadLettersIndexed = deadLetters.size;

    // 2. The inbound topic, judged chunk by chunk (or sampled, then judged).
    const judge = async (candidates: Candidate[]) => {
      const messages = candidates.map((c) =>
        c.envelope ? { ...c.meta, ...expectedResults(c.envelope) } : c.meta,
      );
      const chart = await ledger.lookup(messages.flatMap((m) => m.expectedEventIds ?? []));
      for (const message of messages) {
        tally(report, classifyMessage(message, topics.inbound, chart, deadLetters), log);
      }
    };
    const seen = new Set<string>();
    const firstSeen = new Map<string, RecordRef>();
    const duplicates = new Map<string, DuplicateMessage>();
    let chunk: Candidate[] = [];
    const reservoir: Candidate[] = [];

    await readPartitionRanges({
      ...readerOptions,
      ranges: inboundRanges,
      onBatch: async ({ partition, messages }) => {
        for (const message of messages) {
          report.recordsRead++;
          const candidate = await inspect(message, partition, codec, since, until);
          if (candidate.identity) seen.add(candidate.identity.key);
          if (!candidate.inWindow) continue;
          const meta = candidate.meta;
          if (
            options.sourceSystem !== undefined &&
            meta.sourceSystem !== undefined &&
            meta.sourceSystem !== options.sourceSystem
          ) {
            continue;
          }
          if (candidate.replay) {
            report.replayRecords++;
            continue;
          }
          report.messagesInWindow++;
          const identity = candidate.identity;
          if (identity) {
            const ref = { partition, offset: message.offset, timestamp: meta.timestamp };
            const first = firstSeen.get(identity.key);
            if (!first) firstSeen.set(identity.key, ref);
            else {
              const duplicate = duplicates.get(identity.key);
              if (duplicate) duplicate.records.push(ref);
              else {
                duplicates.set(identity.key, {
                  sourceSystem: identity.sourceSystem,
                  messageControlId: identity.messageControlId,
                  records: [first, ref],
                });
              }
            }
          }
          const entry: Candidate = candidate.envelope
            ? { meta, envelope: candidate.envelope }
            : { meta };
          if (options.sample === undefined) {
            chunk.push(entry);
            if (chunk.length >= chunkSize) {
              await judge(chunk);
              chunk = [];
            }
          } else {
            // Reservoir sampling (Algorithm R): every message has the same chance to be picked.
            const seenSoFar = report.messagesInWindow;
            if (reservoir.length < options.sample) reservoir.push(entry);
            else {
              const slot = Math.floor(random() * seenSoFar);
              if (slot < options.sample) reservoir[slot] = entry;
            }
          }
        }
      },
    });
    const rest = options.sample === undefined ? chunk : reservoir;
    for (let i = 0; i < rest.length; i += chunkSize) await judge(rest.slice(i, i + chunkSize));

    report.duplicatesTotal = duplicates.size;
    report.duplicates = [...duplicates.values()].slice(0, listLimit);

    // 3. Ledger rows whose message is not on the topic. The last skew before the audit started
    // is left out: a message received then may have been produced after the end offsets.
    const ledgerUntil = new Date(
      Math.min(until?.getTime() ?? Infinity, startedAt.getTime() - skew),
    );
    if (ledgerUntil > since) {
      for await (const page of ledger.rowsReceivedBetween(
        since,
        ledgerUntil,
        options.sourceSystem,
      )) {
        for (const row of page) {
          if (seen.has(identityOf(row.sourceSystem, row.messageControlId))) continue;
          report.ledgerRowsWithoutMessageTotal++;
          if (report.ledgerRowsWithoutMessage.length < listLimit) {
            report.ledgerRowsWithoutMessage.push(row);
          }
        }
      }
    }
  } finally {
    await deleteReadGroup(kafka, groupId, log, 'reconcile');
  }

  report.ok = report.counts.missing === 0;
  report.durationMs = Date.now() - startedAt.getTime();
  const sortByPlace = (a: AuditedMessage, b: AuditedMessage) =>
    a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset));
  report.missing.sort(sortByPlace);
  report.deadLettered.sort(sortByPlace);
  report.replayed.sort(sortByPlace);
  log.info(
    {
      examined: report.examined,
      counts: report.counts,
      duplicates: report.duplicatesTotal,
      ledgerRowsWithoutMessage: report.ledgerRowsWithoutMessageTotal,
      durationMs: report.durationMs,
    },
    report.ok
      ? 'reconcile finished: every message accounted for'
      : 'reconcile finished: messages MISSING',
  );
  return report;
}

interface Identity {
  key: string;
  sourceSystem: string;
  messageControlId: string;
}

function identityFrom(
  sourceSystem: string | undefined,
  messageControlId: string | undefined,
): Identity | undefined {
  return sourceSystem !== undefined && messageControlId !== undefined
    ? { key: identityOf(sourceSystem, messageControlId), sourceSystem, messageControlId }
    : undefined;
}

interface Inspected {
  inWindow: boolean;
  replay: boolean;
  identity?: Identity;
  meta: InboundMessage;
  envelope?: RawHl7Envelope;
}

/** Reads what the audit needs from one inbound record (decoding only records in the window). */
async function inspect(
  message: KafkaMessage,
  partition: number,
  codec: AvroCodec,
  since: Date,
  until: Date | undefined,
): Promise<Inspected> {
  const headers = headersToStrings(message.headers);
  const timestamp = new Date(Number(message.timestamp));
  const headerSource = headers[MessageHeaders.sourceSystem] || undefined;
  const headerControlId = headers[MessageHeaders.messageControlId] || undefined;
  const inWindow = timestamp >= since && (!until || timestamp < until);
  const base = { partition, offset: message.offset, timestamp };
  if (!inWindow) {
    const identity = identityFrom(headerSource, headerControlId);
    return {
      inWindow,
      replay: false,
      ...(identity ? { identity } : {}),
      meta: base,
    };
  }
  const replay = headers[ReplayHeaders.replayedFrom] !== undefined;
  let envelope: RawHl7Envelope;
  try {
    envelope = await codec.decode<RawHl7Envelope>(RawHl7EnvelopeContract, message.value);
  } catch (error) {
    // Only a record that is not an envelope is judged as such; an unreachable registry ends the audit.
    if (!(error instanceof SchemaViolationError)) throw error;
    const identity = identityFrom(headerSource, headerControlId);
    return {
      inWindow,
      replay,
      ...(identity ? { identity } : {}),
      meta: {
        ...base,
        ...(headerSource !== undefined ? { sourceSystem: headerSource } : {}),
        ...(headerControlId !== undefined ? { messageControlId: headerControlId } : {}),
        problem: `the record is not a RawHl7Envelope (${error.message})`,
      },
    };
  }
  return {
    inWindow,
    replay,
    identity: {
      key: identityOf(envelope.sourceSystem, envelope.messageControlId),
      sourceSystem: envelope.sourceSystem,
      messageControlId: envelope.messageControlId,
    },
    meta: {
      ...base,
      sourceSystem: envelope.sourceSystem,
      messageControlId: envelope.messageControlId,
      messageType: envelope.messageType,
      receivedAt: new Date(envelope.receivedAt),
    },
    envelope,
  };
}

function tally(report: ReconcileReport, audited: AuditedMessage, logger: Logger): void {
  report.examined++;
  report.counts[audited.class]++;
  auditedCounter.inc({ class: audited.class });
  switch (audited.class) {
    case 'in-chart':
      break;
    case 'replayed':
      report.replayed.push(audited);
      break;
    case 'dead-lettered':
      report.deadLettered.push(audited);
      break;
    case 'not-a-result': {
      const type = audited.messageType ?? '(unknown)';
      report.notAResultByType[type] = (report.notAResultByType[type] ?? 0) + 1;
      break;
    }
    case 'missing':
      report.missing.push(audited);
      logger.warn(
        {
          partition: audited.partition,
          offset: audited.offset,
          messageControlId: audited.messageControlId,
          sourceSystem: audited.sourceSystem,
          detail: audited.detail,
        },
        'message MISSING: neither in the chart nor dead-lettered',
      );
      break;
  }
}

function validate(options: ReconcileOptions): void {
  const { since, until, sample, clockSkewMs, chunkSize } = options;
  if (Number.isNaN(since.getTime())) throw new InvalidOpsOptionsError('since is not a valid time');
  if (until && Number.isNaN(until.getTime())) {
    throw new InvalidOpsOptionsError('until is not a valid time');
  }
  if (until && until <= since) {
    throw new InvalidOpsOptionsError(
      `until (${until.toISOString()}) must be after since (${since.toISOString()})`,
    );
  }
  if (sample !== undefined && (!Number.isInteger(sample) || sample < 1)) {
    throw new InvalidOpsOptionsError(`sample must be a positive integer, got ${sample}`);
  }
  if (clockSkewMs !== undefined && (!Number.isFinite(clockSkewMs) || clockSkewMs < 0)) {
    throw new InvalidOpsOptionsError(`clockSkewMs must be zero or more, got ${clockSkewMs}`);
  }
  if (chunkSize !== undefined && (!Number.isInteger(chunkSize) || chunkSize < 1)) {
    throw new InvalidOpsOptionsError(`chunkSize must be a positive integer, got ${chunkSize}`);
  }
}
