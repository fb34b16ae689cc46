/**
 * The gateway's promise under a broker outage: while Kafka is down the LIS gets negative ACKs
 * or no ACK at all — never AA — and once it is back, every message the LIS resends is stored.
 * The broker is a private one (startScratchKafka) that this test really stops and restarts.
 */
import { RawHl7EnvelopeContract, Topics, type RawHl7Envelope } from '@ancillary/contracts';
import { startLabGateway, type LabGatewayHandle } from '@ancillary/lab-gateway-service';
import { MllpClient, MllpError, MllpNackError } from '@ancillary/hl7-mllp';
import { Messaging, provisionTopics } from '@ancillary/messaging-kafka';
import {
  captureLogger,
  readTopic,
  startScratchKafka,
  testStack,
  uniqueName,
  waitFor,
  type ScratchKafka,
} from '@ancillary/testing';
import { provisionCatalogue } from './platform.fixture';

const stack = testStack();
const { logger } = captureLogger('broker-outage', 'error');
let kafka: ScratchKafka;
let gateway: LabGatewayHandle;

function oru(controlId: string, n: number): string {
  return [
    `MSH|^~\\&|SIMLIS|NWH-LAB|EHR|NWH|20261126010000||ORU^R01^ORU_R01|${controlId}|P|2.5.1`,
    `PID|1||MRN-OUT-${n % 7}^^^NWH^MR||Outage^Test||19700101|F`,
    `OBR|1|PL-${controlId}|FL-${controlId}|BMP^Basic metabolic panel^L|||20261126000000`,
    'OBX|1|NM|GLU^Glucose^L||98|mg/dL|70-99|N|||F',
  ].join('\r');
}

beforeAll(async () => {
  await provisionCatalogue(logger); // the schemas the gateway encodes with, in the shared registry
  kafka = await startScratchKafka();
  const admin = new Messaging(
    { service: 'outage-admin', brokers: kafka.brokers, registryUrl: stack.registryUrl },
    logger,
  );
  await provisionTopics(admin.kafka, [Topics.labHl7Inbound], logger);
  await admin.close();
  gateway = await startLabGateway(
    {
      KAFKA_BROKERS: kafka.brokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      SOURCE_SYSTEM: uniqueName('lis-outage').toLowerCase(),
      MLLP_PORT: '0',
      HTTP_PORT: '0',
      KAFKA_PUBLISH_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'error',
      // Results only: the private broker has no order topics.
      ORDERS_ENABLED: 'false',
    },
    { logger, shutdownHooks: false },
  );
}, 120_000);

afterAll(async () => {
  // Set-up may have failed part-way: clean up what exists, leave its error to speak.
  await (gateway as LabGatewayHandle | undefined)?.close();
  await (kafka as ScratchKafka | undefined)?.destroy();
}, 60_000);

it('never answers AA while the broker is down, and stores every resent message once it is back', async () => {
  const client = new MllpClient({
    host: '127.0.0.1',
    port: gateway.mllpPort,
    ackTimeoutMs: 8_000,
    retry: { maxAttempts: 1 },
  });
  const acked = new Set<string>();
  const notStored: string[] = [];
  const send = async (controlId: string, n: number) => {
    try {
      const result = await client.send(oru(controlId, n));
      expect(['AA', 'CA']).toContain(result.code);
      acked.add(controlId);
    } catch (error) {
      expect(error).toBeInstanceOf(MllpError);
      if (error instanceof MllpNackError) expect(['AE', 'CE']).toContain(error.ackCode);
      notStored.push(controlId);
    }
  };

  const ids = Array.from({ length: 25 }, (_, i) => `${uniqueName('OUT')}-${i}`);
  for (const [i, id] of ids.slice(0, 10).entries()) await send(id, i);
  expect(acked.size).toBe(10);

  await kafka.stop();
  for (const [i, id] of ids.slice(10, 15).entries()) await send(id, i + 10);
  // Not one AA without the broker.
  expect(acked.size).toBe(10);
  expect(notStored).toHaveLength(5);

  await kafka.start();
  // The LIS resends what was not acknowledged (the MLLP client would, with retries on).
  await waitFor(
    async () => {
      const pending = notStored.splice(0);
      for (const id of pending) await send(id, 0);
      return notStored.length === 0;
    },
    { timeoutMs: 90_000, intervalMs: 1_000, description: 'every resent message acknowledged' },
  );
  for (const [i, id] of ids.slice(15).entries()) await send(id, i + 15);
  await client.close();
  expect(acked.size).toBe(25);

  // Everything acknowledged is on the topic, exactly as sent.
  const reader = new Messaging(
    { service: 'outage-reader', brokers: kafka.brokers, registryUrl: stack.registryUrl },
    logger,
  );
  const stored = new Set<string>();
  try {
    // The scratch broker's topic holds only this test's records: at least one per acked message.
    const records = await readTopic(reader.kafka, Topics.labHl7Inbound.name, {
      until: (read) => read.length >= ids.length,
      timeoutMs: 60_000,
      description: `all ${ids.length} messages on the topic`,
    });
    for (const record of records) {
      const envelope = await reader.codec.decode<RawHl7Envelope>(
        RawHl7EnvelopeContract,
        record.value,
      );
      stored.add(envelope.messageControlId);
    }
  } finally {
    await reader.close();
  }
  expect([...stored].sort()).toEqual([...ids].sort());
}, 300_000);
