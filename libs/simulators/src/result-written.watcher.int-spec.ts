/**
 * The watcher against the real broker and schema registry: a test topic of its own with the
 * ResultWritten contract, events published through the platform's producer.
 */
import { ResultWrittenContract, type ResultWritten } from '@ancillary/contracts';
import {
  deleteTopics,
  Messaging,
  newMessageContext,
  provisionContracts,
} from '@ancillary/messaging-kafka';
import { captureLogger, testStack, testTopic, uniqueName, waitFor } from '@ancillary/testing';
import { ResultWrittenWatcher } from './result-written.watcher';

const stack = testStack();
const { logger } = captureLogger('simulators-test', 'warn');
const topic = testTopic(ResultWrittenContract, 3);
let messaging: Messaging;

function event(controlId: string, orderIndex = 0): ResultWritten {
  const now = Date.now();
  return {
    eventId: uniqueName('event'),
    sourceSystem: 'LIS-MAIN',
    messageControlId: controlId,
    orderIndex,
    envelopeId: null,
    receivedAt: now - 40,
    writtenAt: now - 5,
    patientId: 'patient-1',
    diagnosticReportId: `report-${controlId}`,
    versionId: 1,
    observationCount: 8,
    outcome: 'CREATED',
  };
}

function publish(events: ResultWritten[]) {
  return messaging.producer.publishBatch(
    topic,
    events.map((value) => ({
      key: `patient-${value.messageControlId}`,
      value,
      context: newMessageContext({ messageControlId: value.messageControlId }),
    })),
  );
}

beforeAll(async () => {
  messaging = new Messaging(
    { service: 'watcher-int', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
    logger,
  );
  await provisionContracts(messaging.kafka, messaging.codec, [topic], logger);
  await messaging.connect();
});

afterAll(async () => {
  await messaging.close();
  await deleteTopics(messaging.kafka, stack.registryUrl, [topic]);
});

describe('ResultWrittenWatcher', () => {
  it('sees events published after start(), by MSH-10, and not those from before', async () => {
    const before = uniqueName('OLD');
    await publish([event(before)]);
    const watcher = new ResultWrittenWatcher({
      brokers: stack.kafkaBrokers,
      registryUrl: stack.registryUrl,
      topic: topic.name,
      logger,
    });
    await watcher.start();
    try {
      const ids = Array.from({ length: 30 }, (_, i) => `W${String(i).padStart(4, '0')}`);
      const sentAt = Date.now();
      await publish(ids.map((id) => event(id)));
      await publish([event(ids[0]!, 1)]);
      const { seen, missing } = await watcher.waitForAll(ids, 30_000);
      expect(missing).toEqual([]);
      expect(seen.size).toBe(30);
      // the second order group of the same message is a second sighting of its MSH-10
      const first = await waitFor(
        () => {
          const sightings = watcher.get(ids[0]!);
          return sightings && sightings.length === 2 ? sightings : undefined;
        },
        { description: 'the second order group of the first message' },
      );
      expect(first.map((s) => s.event.orderIndex).sort()).toEqual([0, 1]);
      expect(watcher.seenCount).toBe(31);
      expect(first[0]!.event).toMatchObject({
        messageControlId: ids[0],
        sourceSystem: 'LIS-MAIN',
        outcome: 'CREATED',
        observationCount: 8,
      });
      expect(first[0]!.seenAt).toBeGreaterThanOrEqual(sentAt);
      expect(watcher.get(before)).toBeUndefined();
      expect(watcher.undecodable).toBe(0);

      const late = await watcher.waitForAll(['NEVER-SENT', ids[1]!], 300);
      expect(late.missing).toEqual(['NEVER-SENT']);
      expect(late.seen.has(ids[1]!)).toBe(true);
    } finally {
      await watcher.stop();
    }
  });

  it('counts and logs a record that is not a ResultWritten instead of failing', async () => {
    const { logger: watcherLogger, lines } = captureLogger('simulators-test', 'warn');
    const watcher = new ResultWrittenWatcher({
      brokers: stack.kafkaBrokers,
      registryUrl: stack.registryUrl,
      topic: topic.name,
      logger: watcherLogger,
    });
    await watcher.start();
    try {
      await messaging.producer.sendRaw(topic.name, [
        { key: 'x', value: Buffer.from('not avro'), headers: {} },
      ]);
      await publish([event('AFTER-JUNK')]);
      const { missing } = await watcher.waitForAll(['AFTER-JUNK'], 30_000);
      expect(missing).toEqual([]);
      expect(watcher.undecodable).toBe(1);
      expect(lines().some((l) => String(l['msg']).includes('does not decode'))).toBe(true);
    } finally {
      await watcher.stop();
    }
  });
});
