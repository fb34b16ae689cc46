/**
 * The go-live audit against the real broker, registry and PostgreSQL (a scratch database with
 * the ledger and history tables): every class, what MISSING names, the window, the sample, the
 * source-system filter, duplicates, replay records and ledger rows without a message.
 */
import {
  deadLetterTopicOf,
  LabResultContract,
  MessageHeaders,
  RawHl7EnvelopeContract,
  type TopicDefinition,
} from '@ancillary/contracts';
import { deleteTopics, Messaging, provisionContracts } from '@ancillary/messaging-kafka';
import { captureLogger, testStack, testTopic } from '@ancillary/testing';
import { createScratchChart, labResult, type ScratchChart } from '../../test/chart.helpers';
import { adtA08, envelopeOf, oruR01 } from '../../test/hl7.fixtures';
import {
  deadLetterLatest,
  publishAndDeadLetter,
  publishValue,
  readRecords,
} from '../../test/kafka.helpers';
import { ReplayHeaders } from '../dead-letter.record';
import { reconcile, type ReconcileOptions, type ReconcileReport } from './reconcile';

const stack = testStack();
const { logger } = captureLogger('ops-reconcile-int', 'warn');
const SOURCE = 'LIS-REC';
let messaging: Messaging;
let chart: ScratchChart;
let inbound: TopicDefinition;
let results: TopicDefinition;
/** Window starts after the "old" message; okUntil ends after the two in-chart copies. */
let since: Date;
let okUntil: Date;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function audit(options: Partial<ReconcileOptions> = {}): Promise<ReconcileReport> {
  return reconcile({
    kafka: messaging.kafka,
    codec: messaging.codec,
    pool: chart.pool,
    logger,
    since,
    topics: {
      inbound: inbound.name,
      inboundDeadLetters: deadLetterTopicOf(inbound.name),
      resultsDeadLetters: deadLetterTopicOf(results.name),
    },
    clockSkewMs: 0,
    idleTimeoutMs: 20_000,
    ...options,
  });
}

/** Publishes an ORU^R01 to the inbound topic; returns its envelope. */
async function oru(controlId: string, orders: number, sourceSystem = SOURCE) {
  const envelope = envelopeOf(oruR01(controlId, orders), sourceSystem);
  await publishValue(messaging, inbound, envelope, envelope);
  return envelope;
}

async function applied(controlId: string, orderIndex: number, receivedAt: number, extra = {}) {
  await chart.applied({
    sourceSystem: SOURCE,
    messageControlId: controlId,
    orderIndex,
    receivedAt: new Date(receivedAt),
    ...extra,
  });
}

beforeAll(async () => {
  messaging = new Messaging(
    { service: 'ops-reconcile-int', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
    logger,
  );
  await messaging.connect();
  chart = await createScratchChart(stack.databaseUrl);
  inbound = testTopic(RawHl7EnvelopeContract, 2);
  results = testTopic(LabResultContract, 1);
  await provisionContracts(messaging.kafka, messaging.codec, [inbound, results], logger);

  // Before the window: a message that reached nothing — outside the audit.
  await oru('OLD-1', 1);
  await sleep(20);
  since = new Date();

  // In the chart, sent twice (a duplicate on the topic; one chart entry).
  const ok = await oru('OK-1', 2);
  await publishValue(messaging, inbound, ok, ok);
  await applied('OK-1', 0, ok.receivedAt);
  await applied('OK-1', 1, ok.receivedAt);
  await sleep(20);
  okUntil = new Date();
  await sleep(20);

  // Dead-lettered by the normalizer.
  await publishAndDeadLetter(messaging, inbound, [
    {
      envelope: envelopeOf(oruR01('DLT-1'), SOURCE),
      code: 'UNMAPPED_CODE',
      reason: 'local code GLU-X of TESTLAB has no LOINC mapping',
    },
  ]);

  // Dead-lettered, then replayed and written: a replay record on the topic and a chart entry.
  const [dead] = await publishAndDeadLetter(messaging, inbound, [
    { envelope: envelopeOf(oruR01('RPL-1'), SOURCE), code: 'UNMAPPED_CODE', reason: 'unmapped' },
  ]);
  await messaging.producer.sendRaw(inbound.name, [
    {
      key: dead!.message.key,
      value: dead!.message.value,
      headers: {
        [MessageHeaders.messageControlId]: 'RPL-1',
        [MessageHeaders.sourceSystem]: SOURCE,
        [ReplayHeaders.replayedFrom]: `${deadLetterTopicOf(inbound.name)}/0/1`,
        [ReplayHeaders.replayCount]: '1',
      },
    },
  ]);
  await applied('RPL-1', 0, Date.now());

  // Two order groups: the first written, the second dead-lettered by the ehr-writer.
  const split = await oru('SPLIT-1', 2);
  await applied('SPLIT-1', 0, split.receivedAt);
  await publishValue(messaging, results, labResult(SOURCE, 'SPLIT-1', 1), {
    messageControlId: 'SPLIT-1',
    sourceSystem: SOURCE,
  });
  await deadLetterLatest(
    messaging,
    results,
    'SPLIT-1',
    'PATIENT_CONFLICT',
    'two patients match MRN-TEST-1',
  );

  // MISSING: no ledger row at all.
  await oru('MISS-LEDGER', 1);
  // MISSING: the ledger names version 2, the history only has version 1.
  const version = await oru('MISS-VERSION', 1);
  await applied('MISS-VERSION', 0, version.receivedAt, { reportVersion: 2, historyVersions: [1] });
  // MISSING: not an envelope at all, and in no dead-letter topic.
  await messaging.producer.sendRaw(inbound.name, [
    {
      key: 'GARBAGE-1',
      value: Buffer.from('MSH|^~\\&|not avro'),
      headers: {
        [MessageHeaders.messageControlId]: 'GARBAGE-1',
        [MessageHeaders.sourceSystem]: SOURCE,
      },
    },
  ]);
  // MISSING, from another ancillary connection.
  await oru('OTHER-1', 1, 'LIS-OTHER');
  // Not a result.
  const adt = envelopeOf(adtA08('ADT-1'), SOURCE);
  await publishValue(messaging, inbound, adt, adt);
  // A ledger row whose message never was on the topic.
  await applied('GHOST-1', 0, Date.now());

  await readRecords(messaging.kafka, inbound.name, 12); // everything is on the topic
});

afterAll(async () => {
  await messaging.close();
  await deleteTopics(messaging.kafka, stack.registryUrl, [inbound, results]);
  await chart.drop();
});

const byControlId = (messages: ReconcileReport['missing'], id: string) =>
  messages.find((m) => m.messageControlId === id);

describe('reconcile', () => {
  let report: ReconcileReport;

  beforeAll(async () => {
    report = await audit();
  });

  it('accounts for every message of the window by class', () => {
    expect(report.messagesInWindow).toBe(10);
    expect(report.examined).toBe(10);
    expect(report.counts).toEqual({
      'in-chart': 2,
      replayed: 1,
      'dead-lettered': 2,
      'not-a-result': 1,
      missing: 4,
    });
    expect(report.notAResultByType).toEqual({ 'ADT^A08': 1 });
    expect(report.replayRecords).toBe(1);
    expect(report.ok).toBe(false);
  });

  it('names what is missing: the order group, the report version, the unreadable record', () => {
    expect(report.missing.map((m) => m.messageControlId).sort()).toEqual([
      'GARBAGE-1',
      'MISS-LEDGER',
      'MISS-VERSION',
      'OTHER-1',
    ]);
    expect(byControlId(report.missing, 'MISS-LEDGER')!.detail).toMatch(
      /^order 0 \(event [0-9a-f-]{36}\): no ledger row$/,
    );
    expect(byControlId(report.missing, 'MISS-VERSION')!.detail).toMatch(
      /DiagnosticReport\/dr-\S+ version 2 not in resource_history/,
    );
    const garbage = byControlId(report.missing, 'GARBAGE-1')!;
    expect(garbage.detail).toMatch(/not a RawHl7Envelope.*in no dead-letter topic/);
    expect(garbage.sourceSystem).toBe(SOURCE);
    const missing = byControlId(report.missing, 'MISS-LEDGER')!;
    expect(missing).toMatchObject({ sourceSystem: SOURCE, messageType: 'ORU^R01' });
    expect(missing.receivedAt).toBeInstanceOf(Date);
    expect(Number(missing.offset)).toBeGreaterThanOrEqual(0);
  });

  it('gives the reason of what was dead-lettered, inbound or result', () => {
    expect(byControlId(report.deadLettered, 'DLT-1')!.detail).toBe(
      `${deadLetterTopicOf(inbound.name)}: UNMAPPED_CODE: local code GLU-X of TESTLAB has no LOINC mapping`,
    );
    const split = byControlId(report.deadLettered, 'SPLIT-1')!;
    expect(split.detail).toBe(
      `${deadLetterTopicOf(results.name)}: PATIENT_CONFLICT: two patients match MRN-TEST-1`,
    );
    expect(split.orders.map((o) => o.state)).toEqual(['in-chart', 'dead-lettered']);
    expect(report.replayed.map((m) => m.messageControlId)).toEqual(['RPL-1']);
  });

  it('flags duplicates and ledger rows without a message, as information', () => {
    expect(report.duplicates).toHaveLength(1);
    expect(report.duplicates[0]).toMatchObject({ sourceSystem: SOURCE, messageControlId: 'OK-1' });
    expect(report.duplicates[0]!.records).toHaveLength(2);
    expect(report.ledgerRowsWithoutMessage.map((r) => r.messageControlId)).toEqual(['GHOST-1']);
    expect(report.ledgerRowsWithoutMessageTotal).toBe(1);
  });

  it('is clean for a window where everything reached the chart', async () => {
    const clean = await audit({ until: okUntil });
    expect(clean.ok).toBe(true);
    expect(clean.counts).toMatchObject({ 'in-chart': 2, missing: 0 });
    expect(clean.examined).toBe(2);
    expect(clean.ledgerRowsWithoutMessageTotal).toBe(0);
  });

  it('audits only one source system when asked', async () => {
    const filtered = await audit({ sourceSystem: SOURCE });
    expect(filtered.messagesInWindow).toBe(9);
    expect(filtered.counts.missing).toBe(3);
    expect(byControlId(filtered.missing, 'OTHER-1')).toBeUndefined();
  });

  it('audits a random sample of the window', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    const sampled = await audit({ sample: 4, random });
    expect(sampled.messagesInWindow).toBe(10);
    expect(sampled.examined).toBe(4);
    expect(Object.values(sampled.counts).reduce((a, b) => a + b, 0)).toBe(4);
  });
});
