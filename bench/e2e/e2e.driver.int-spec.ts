/**
 * The e2e driver without the platform: a real MllpServer stands in for the lab gateway and,
 * for each message it accepts, publishes a ResultWritten to a test topic on the real broker
 * (through the registry) a little later, as the ehr-writer would. The driver must match the
 * events to the sent messages and count the ones that never came.
 */
import { ResultWrittenContract, type ResultWritten } from '@ancillary/contracts';
import { MllpResult, MllpServer, type MllpHandler } from '@ancillary/hl7-mllp';
import {
  deleteTopics,
  Messaging,
  newMessageContext,
  provisionContracts,
} from '@ancillary/messaging-kafka';
import {
  labCatalogueFromTerminology,
  LisTrafficGenerator,
  RESULTS_ONLY_MIX,
  ResultWrittenWatcher,
} from '@ancillary/simulators';
import { loadTerminology } from '@ancillary/terminology';
import { captureLogger, testStack, testTopic, uniqueName } from '@ancillary/testing';
import { runPhase } from './e2e.driver';

const stack = testStack();
const { logger } = captureLogger('bench-e2e-int', 'warn');
const topic = testTopic(ResultWrittenContract, 2);
const catalogue = labCatalogueFromTerminology(loadTerminology());
let messaging: Messaging;
let watcher: ResultWrittenWatcher;

/** Publishes the ResultWritten of a message `delayMs` after it was accepted. */
function pipeline(delayMs: number, writes: (controlId: string) => boolean): MllpHandler {
  return (message, context) => {
    const controlId = message.controlId;
    const receivedAt = context.receivedAt.getTime();
    if (writes(controlId)) {
      setTimeout(() => {
        const value: ResultWritten = {
          eventId: uniqueName('event'),
          sourceSystem: 'lis-main',
          messageControlId: controlId,
          orderIndex: 0,
          envelopeId: null,
          receivedAt,
          writtenAt: receivedAt + 15,
          patientId: 'p',
          diagnosticReportId: `r-${controlId}`,
          versionId: 1,
          observationCount: 5,
          outcome: 'CREATED',
        };
        messaging.producer
          .publish(topic, { key: controlId, value, context: newMessageContext() })
          .catch((error: unknown) => {
            logger.error({ error: String(error) }, 'stand-in ehr-writer could not publish');
          });
      }, delayMs);
    }
    return MllpResult.accept();
  };
}

async function gateway(
  handler: MllpHandler,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server = new MllpServer({ host: '127.0.0.1', port: 0, handler, closeTimeoutMs: 2000 });
  const { port } = await server.listen();
  return { port, close: () => server.close() };
}

beforeAll(async () => {
  messaging = new Messaging(
    { service: 'bench-e2e-int', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
    logger,
  );
  await provisionContracts(messaging.kafka, messaging.codec, [topic], logger);
  await messaging.connect();
  watcher = new ResultWrittenWatcher({
    brokers: stack.kafkaBrokers,
    registryUrl: stack.registryUrl,
    topic: topic.name,
    logger,
  });
  await watcher.start();
});

afterAll(async () => {
  await watcher.stop();
  await messaging.close();
  await deleteTopics(messaging.kafka, stack.registryUrl, [topic]);
});

describe('runPhase', () => {
  it('matches every accepted message to its ResultWritten and times it', async () => {
    const { port, close } = await gateway(pipeline(30, () => true));
    try {
      const generator = new LisTrafficGenerator({
        catalogue,
        seed: 1,
        runId: 'T1',
        mix: RESULTS_ONLY_MIX,
        clock: () => new Date(),
      });
      const result = await runPhase(
        { label: '40 msg/s', rate: 40, durationMs: 1000, connections: 2 },
        { host: '127.0.0.1', port, generator, watcher, settleTimeoutMs: 30_000 },
      );
      expect(result.sent).toBe(40);
      expect(result.accepted).toBe(40);
      expect(result.refused + result.noAck).toBe(0);
      expect(result.expected).toBe(40);
      expect(result.written).toBe(40);
      expect(result.pending).toBe(0);
      expect(result.ack.count).toBe(40);
      // the stand-in writes 30 ms after the ACK: sending to seeing takes at least that
      expect(result.receiptToChart.p50).toBeGreaterThanOrEqual(30);
      expect(result.receiptToChart.p99).toBeGreaterThanOrEqual(result.receiptToChart.p50);
      expect(result.gatewayToCommit.p50).toBe(15);
      expect(result.acceptedPerSecond).toBeGreaterThan(30);
      expect(result.writtenPerSecond).toBeGreaterThan(5);
      expect(result.writtenPerSecond).toBeLessThanOrEqual(45);
    } finally {
      await close();
    }
  });

  it('counts the results that never reach the chart as pending', async () => {
    const { port, close } = await gateway(pipeline(5, (id) => !id.endsWith('3')));
    try {
      const generator = new LisTrafficGenerator({
        catalogue,
        seed: 2,
        runId: 'T2',
        mix: RESULTS_ONLY_MIX,
        clock: () => new Date(),
      });
      const result = await runPhase(
        { label: 'max', rate: undefined, durationMs: 500, connections: 3 },
        { host: '127.0.0.1', port, generator, watcher, settleTimeoutMs: 3000 },
      );
      const missing = Array.from({ length: result.sent }, (_, i) => i + 1).filter((seq) =>
        String(seq).endsWith('3'),
      ).length;
      expect(result.sent).toBeGreaterThan(20);
      expect(result.offeredRate).toBeUndefined();
      expect(result.pending).toBe(missing);
      expect(result.written).toBe(result.sent - missing);
    } finally {
      await close();
    }
  });
});
