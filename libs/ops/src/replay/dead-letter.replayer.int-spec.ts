/**
 * The dead-letter replay against the real broker and registry: each dead letter replayed
 * once (also across filtered runs), the same key, bytes and headers, filters, dry run, limit,
 * the confirmation, the end offsets captured at start, --all, refusals.
 */
import {
  DeadLetterHeaders,
  deadLetterTopicOf,
  MessageHeaders,
  RawHl7EnvelopeContract,
  type TopicDefinition,
} from '@ancillary/contracts';
import { deleteTopics, Messaging, provisionContracts } from '@ancillary/messaging-kafka';
import { captureLogger, testStack, testTopic } from '@ancillary/testing';
import { envelopeOf, oruR01 } from '../../test/hl7.fixtures';
import {
  committed,
  deleteGroups,
  publishAndDeadLetter,
  readRecords,
  recordCount,
  type DeadLetterSpec,
} from '../../test/kafka.helpers';
import { ReplayHeaders, type DeadLetterRecord } from '../dead-letter.record';
import { InvalidOpsOptionsError, ReplayInProgressError, TopicNotFoundError } from '../ops.errors';
import { replayDeadLetters, replayGroupOf, type ReplayOptions } from './dead-letter.replayer';

const stack = testStack();
const { logger } = captureLogger('ops-replay-int', 'warn');
let messaging: Messaging;
const topics: TopicDefinition[] = [];

beforeAll(async () => {
  messaging = new Messaging(
    {
      service: 'ops-replay-int',
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
  await deleteGroups(
    messaging.kafka,
    topics.map((t) => replayGroupOf(deadLetterTopicOf(t.name))),
  );
  await deleteTopics(messaging.kafka, stack.registryUrl, topics);
});

async function newTopic(): Promise<TopicDefinition> {
  const topic = testTopic(RawHl7EnvelopeContract);
  topics.push(topic);
  await provisionContracts(messaging.kafka, messaging.codec, [topic], logger);
  return topic;
}

function specs(prefix: string, codes: readonly string[]): DeadLetterSpec[] {
  return codes.map((code, i) => ({
    envelope: envelopeOf(oruR01(`${prefix}-${i}`), 'LIS-TEST'),
    code,
    reason: `synthetic ${code} for ${prefix}-${i}`,
  }));
}

function replay(topic: TopicDefinition, options: Partial<ReplayOptions> = {}) {
  return replayDeadLetters({
    kafka: messaging.kafka,
    producer: messaging.producer,
    logger,
    deadLetterTopic: deadLetterTopicOf(topic.name),
    idleTimeoutMs: 20_000,
    ...options,
  });
}

/** The replays now on the original topic (records with x-replayed-from), by their source. */
async function replaysOn(topic: TopicDefinition) {
  const total = await recordCount(messaging.kafka, topic.name);
  const records = await readRecords(messaging.kafka, topic.name, total);
  return records.filter((r) => r.message.headers?.[ReplayHeaders.replayedFrom] !== undefined);
}

const header = (message: { headers?: Record<string, unknown> }, name: string) =>
  (message.headers?.[name] as Buffer | undefined)?.toString() ?? '';

describe('replayDeadLetters', () => {
  it('republishes each dead letter once to its topic: same key, same bytes, original headers plus replay headers', async () => {
    const topic = await newTopic();
    const originals = await publishAndDeadLetter(
      messaging,
      topic,
      specs('once', ['UNMAPPED_CODE', 'UNMAPPED_CODE', 'HL7_PARSE']),
    );
    const dlt = deadLetterTopicOf(topic.name);

    const report = await replay(topic);
    expect(report).toMatchObject({
      replayed: 3,
      failed: 0,
      stopReason: 'completed',
      targetTopic: topic.name,
    });

    const replays = await replaysOn(topic);
    expect(replays).toHaveLength(3);
    for (const [i, replayed] of replays.entries()) {
      const original = originals[i]!.message;
      expect(replayed.message.key!.toString()).toBe(original.key!.toString());
      expect(Buffer.compare(replayed.message.value!, original.value!)).toBe(0);
      expect(header(replayed.message, MessageHeaders.messageControlId)).toBe(`once-${i}`);
      expect(header(replayed.message, MessageHeaders.sourceSystem)).toBe('LIS-TEST');
      expect(header(replayed.message, MessageHeaders.correlationId)).toBe(
        header(original, MessageHeaders.correlationId),
      );
      expect(header(replayed.message, 'traceparent')).toBe(header(original, 'traceparent'));
      expect(header(replayed.message, ReplayHeaders.replayedFrom)).toBe(`${dlt}/0/${i}`);
      expect(header(replayed.message, ReplayHeaders.replayCount)).toBe('1');
      expect(Object.keys(replayed.message.headers!).filter((h) => h.startsWith('x-dlt-'))).toEqual(
        [],
      );
    }
    // Committed after the acknowledgement: the group is at the end, with nothing left over.
    expect(await committed(messaging.kafka, replayGroupOf(dlt), dlt)).toEqual({
      offset: '3',
      metadata: null,
    });

    // A second run finds nothing new; a third replays only what arrived since.
    expect(await replay(topic)).toMatchObject({ replayed: 0, examined: 0 });
    await publishAndDeadLetter(messaging, topic, specs('later', ['UNMAPPED_CODE']));
    expect(await replay(topic)).toMatchObject({ replayed: 1, examined: 1 });
    expect(await replaysOn(topic)).toHaveLength(4);
  });

  it('filters by error code and control id, and a later unfiltered run replays only the rest', async () => {
    const topic = await newTopic();
    await publishAndDeadLetter(
      messaging,
      topic,
      specs('flt', ['A_CODE', 'B_CODE', 'A_CODE', 'B_CODE', 'A_CODE']),
    );

    const byCode = await replay(topic, { filter: { errorCodes: ['B_CODE'] } });
    expect(byCode).toMatchObject({ replayed: 2, skippedByFilter: 3, alreadyReplayed: 0 });
    const byControlId = await replay(topic, { filter: { controlIds: ['flt-4'] } });
    expect(byControlId).toMatchObject({ replayed: 1, skippedByFilter: 2, alreadyReplayed: 2 });
    const rest = await replay(topic);
    expect(rest).toMatchObject({ replayed: 2, alreadyReplayed: 3, skippedByFilter: 0 });

    const replays = await replaysOn(topic);
    const sources = replays.map((r) => header(r.message, MessageHeaders.messageControlId));
    expect(sources).toEqual(['flt-1', 'flt-3', 'flt-4', 'flt-0', 'flt-2']);
    expect(await replay(topic)).toMatchObject({ replayed: 0 });
  });

  it('filters by the time a record was dead-lettered', async () => {
    const topic = await newTopic();
    await publishAndDeadLetter(messaging, topic, specs('early', ['X', 'X']));
    const dlt = await readRecords(messaging.kafka, deadLetterTopicOf(topic.name), 2);
    const boundary = new Date(Number(dlt[1]!.message.timestamp) + 1);
    await new Promise((resolve) => setTimeout(resolve, 5)); // the next records get a later timestamp
    await publishAndDeadLetter(messaging, topic, specs('late', ['X']));

    const late = await replay(topic, { filter: { since: boundary } });
    expect(late).toMatchObject({ replayed: 1, skippedByFilter: 2 });
    const early = await replay(topic, { filter: { until: boundary } });
    expect(early).toMatchObject({ replayed: 2, alreadyReplayed: 1 });
  });

  it('a dry run lists what would be replayed and publishes and commits nothing', async () => {
    const topic = await newTopic();
    await publishAndDeadLetter(messaging, topic, specs('dry', ['A_CODE', 'B_CODE', 'A_CODE']));
    const listed: DeadLetterRecord[] = [];
    const report = await replay(topic, {
      dryRun: true,
      filter: { errorCodes: ['A_CODE'] },
      onPlanned: (r) => listed.push(r),
    });
    expect(report).toMatchObject({ dryRun: true, wouldReplay: 2, replayed: 0, skippedByFilter: 1 });
    expect(listed.map((r) => [r.messageControlId, r.errorCode, r.errorMessage])).toEqual([
      ['dry-0', 'A_CODE', 'synthetic A_CODE for dry-0'],
      ['dry-2', 'A_CODE', 'synthetic A_CODE for dry-2'],
    ]);
    expect(await recordCount(messaging.kafka, topic.name)).toBe(3); // the originals only
    const dlt = deadLetterTopicOf(topic.name);
    expect((await committed(messaging.kafka, replayGroupOf(dlt), dlt))?.offset ?? '-1').toBe('-1');
    expect(await replay(topic)).toMatchObject({ replayed: 3 });
  });

  it('stops at the limit and continues where it stopped', async () => {
    const topic = await newTopic();
    await publishAndDeadLetter(messaging, topic, specs('lim', ['X', 'X', 'X', 'X', 'X']));
    expect(await replay(topic, { limit: 2 })).toMatchObject({ replayed: 2, stopReason: 'limit' });
    expect(await replay(topic, { limit: 10, batchSize: 2 })).toMatchObject({
      replayed: 3,
      stopReason: 'completed',
    });
    expect(
      (await replaysOn(topic)).map((r) => header(r.message, MessageHeaders.messageControlId)),
    ).toEqual(['lim-0', 'lim-1', 'lim-2', 'lim-3', 'lim-4']);
  });

  it('asks with the plan before publishing, and replays only up to the end offsets of that plan', async () => {
    const topic = await newTopic();
    await publishAndDeadLetter(messaging, topic, specs('ask', ['X', 'Y']));

    const declined = await replay(topic, { confirm: () => Promise.resolve(false) });
    expect(declined).toMatchObject({ stopReason: 'declined', replayed: 0 });
    expect(declined.plan).toMatchObject({ toReplay: 2, byErrorCode: { X: 1, Y: 1 } });
    expect(await recordCount(messaging.kafka, topic.name)).toBe(2);

    const accepted = await replay(topic, {
      confirm: async (plan) => {
        expect(plan.partitions).toEqual([{ partition: 0, from: '0', to: '2' }]);
        // Dead letters arriving after the plan are not part of this run.
        await publishAndDeadLetter(messaging, topic, specs('after', ['X']));
        return true;
      },
    });
    expect(accepted).toMatchObject({ stopReason: 'completed', replayed: 2, examined: 2 });
    expect(await replay(topic)).toMatchObject({ replayed: 1, examined: 1 });
  });

  it('--all replays again what was replayed before', async () => {
    const topic = await newTopic();
    await publishAndDeadLetter(messaging, topic, specs('all', ['X', 'X']));
    expect(await replay(topic)).toMatchObject({ replayed: 2 });
    expect(await replay(topic, { all: true })).toMatchObject({ replayed: 2, alreadyReplayed: 0 });
    expect(await replaysOn(topic)).toHaveLength(4);
  });

  it('refuses a dead letter that names another topic, and replays the others', async () => {
    const topic = await newTopic();
    await publishAndDeadLetter(messaging, topic, specs('foreign', ['X']));
    const dlt = deadLetterTopicOf(topic.name);
    await messaging.producer.sendRaw(dlt, [
      {
        key: 'k',
        value: Buffer.from('not ours'),
        headers: {
          [DeadLetterHeaders.originalTopic]: 'billing.charges.v1',
          [MessageHeaders.messageControlId]: 'foreign-x',
        },
      },
      { key: 'k', value: Buffer.from('no provenance'), headers: {} },
    ]);
    await publishAndDeadLetter(messaging, topic, specs('foreign-after', ['X']));

    const report = await replay(topic);
    expect(report.replayed).toBe(2);
    expect(report.failed).toBe(2);
    expect(report.failures.map((f) => [f.offset, f.code])).toEqual([
      ['1', 'FOREIGN_ORIGINAL_TOPIC'],
      ['2', 'NO_ORIGINAL_TOPIC'],
    ]);
    expect(report.failures[0]!.reason).toContain('billing.charges.v1');
    // The refused records hold the cursor; the replayed one after them is remembered.
    expect(await committed(messaging.kafka, replayGroupOf(dlt), dlt)).toEqual({
      offset: '1',
      metadata: 'r1:2.1',
    });
    expect(await replay(topic)).toMatchObject({ replayed: 0, failed: 2, alreadyReplayed: 1 });
  });

  it('refuses to run while another replay holds the group', async () => {
    const topic = await newTopic();
    const dlt = deadLetterTopicOf(topic.name);
    const holder = messaging.kafka.consumer({ groupId: replayGroupOf(dlt) });
    let joined = false;
    holder.on(holder.events.GROUP_JOIN, () => {
      joined = true;
    });
    await holder.connect();
    await holder.subscribe({ topic: dlt });
    await holder.run({ eachMessage: () => Promise.resolve() });
    try {
      expect(joined).toBe(true);
      await expect(replay(topic)).rejects.toBeInstanceOf(ReplayInProgressError);
    } finally {
      await holder.disconnect();
    }
  });

  it('refuses a topic that is not a dead-letter topic, or does not exist', async () => {
    const topic = await newTopic();
    await expect(replay(topic, { deadLetterTopic: topic.name })).rejects.toBeInstanceOf(
      InvalidOpsOptionsError,
    );
    await expect(replay(topic, { deadLetterTopic: 'no.such-topic.v1.dlt' })).rejects.toBeInstanceOf(
      TopicNotFoundError,
    );
  });
});
