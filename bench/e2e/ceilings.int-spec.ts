/**
 * Both ceilings, small, against the real stack: Kafka's ProducerPerformance from the stack's
 * jars on a scratch topic, and inserts of the real FHIR rows into a scratch database built by
 * the repository's migrations. Each leaves nothing behind.
 */
import { createKafka } from '@ancillary/messaging-kafka';
import { createPool } from '@ancillary/database';
import {
  labCatalogueFromTerminology,
  LisTrafficGenerator,
  RESULTS_ONLY_MIX,
} from '@ancillary/simulators';
import { loadTerminology } from '@ancillary/terminology';
import { captureLogger, testStack } from '@ancillary/testing';
import { averageEnvelopeBytes, encodedEnvelopeBytes } from './envelope.size';
import { measureKafkaCeiling, parseProducerPerformance } from './kafka.ceiling';
import { measurePostgresCeiling, rowsFor } from './postgres.ceiling';

const stack = testStack();
const terminology = loadTerminology();
const sample = new LisTrafficGenerator({
  catalogue: labCatalogueFromTerminology(terminology),
  seed: 3,
  mix: RESULTS_ONLY_MIX,
}).take(200);

describe('the record size', () => {
  it('is the encoded RawHl7Envelope: the HL7 bytes plus the routing fields and the 5-byte header', () => {
    const first = sample[0]!;
    const size = encodedEnvelopeBytes(first);
    expect(size).toBeGreaterThan(first.bytes.length + 5);
    expect(size).toBeLessThan(first.bytes.length + 250);
    const average = averageEnvelopeBytes(sample);
    expect(Number.isInteger(average)).toBe(true);
    expect(average).toBeGreaterThan(500);
  });
});

describe('Kafka ceiling', () => {
  it('parses the summary line of ProducerPerformance', () => {
    const parsed = parseProducerPerformance(
      'noise\n5000 records sent, 4521.3 records/sec (5.39 MB/sec), 301.2 ms avg latency, 812.0 ms max latency, 284 ms 50th, 640 ms 95th, 780 ms 99th, 806 ms 99.9th.\n',
    );
    expect(parsed).toEqual({
      records: 5000,
      recordsPerSecond: 4521.3,
      megabytesPerSecond: 5.39,
      avgLatencyMs: 301.2,
      maxLatencyMs: 812,
      p50Ms: 284,
      p99Ms: 780,
    });
    expect(() => parseProducerPerformance('Exception in thread "main"')).toThrow(
      /printed no summary line/,
    );
  });

  it('measures acks=all producer throughput with Kafka’s own tool and deletes its topic', async () => {
    const result = await measureKafkaCeiling({
      brokers: stack.kafkaBrokers,
      recordSize: averageEnvelopeBytes(sample),
      records: 5000,
    });
    expect(result.records).toBe(5000);
    expect(result.recordsPerSecond).toBeGreaterThan(100);
    expect(result.kafkaVersion).toMatch(/^\d+\.\d+/);
    expect(result.command).toContain('acks=all');
    const { logger } = captureLogger('ceilings-int', 'warn');
    const admin = createKafka(
      { clientId: 'ceilings-int', brokers: stack.kafkaBrokers },
      logger,
    ).admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).not.toContain(result.topic);
    } finally {
      await admin.disconnect();
    }
  });
});

describe('PostgreSQL ceiling', () => {
  it('builds the rows a message produces through the platform’s own mappings', () => {
    const rows = rowsFor(sample.slice(0, 20), terminology);
    expect(rows).toHaveLength(20);
    for (const [i, message] of rows.entries()) {
      const generated = sample[i]!;
      expect(message.controlId).toBe(generated.controlId);
      expect(message.observationCount).toBe(generated.order.observations.length);
      const types = message.resources.map((r) => r.type);
      expect(types[0]).toBe('Patient');
      expect(types).toContain('ServiceRequest');
      expect(types).toContain('Specimen');
      expect(types[types.length - 1]).toBe('DiagnosticReport');
      expect(types.filter((t) => t === 'Observation')).toHaveLength(message.observationCount);
    }
  });

  it('inserts them in a scratch database made by the repository migrations, then drops it', async () => {
    const result = await measurePostgresCeiling({
      databaseUrl: stack.databaseUrl,
      messages: sample,
      terminology,
      durationMs: 1000,
      batchSize: 10,
      connections: 2,
    });
    expect(result.messages).toBeGreaterThan(0);
    expect(result.messagesPerSecond).toBeGreaterThan(0);
    expect(result.rowsPerSecond / result.messagesPerSecond).toBeCloseTo(result.rowsPerMessage, 0);
    expect(result.settings.synchronousCommit).toMatch(/^(on|off|local|remote_write|remote_apply)$/);
    const pool = createPool({ databaseUrl: stack.databaseUrl, maxConnections: 1 });
    try {
      const { rows } = await pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        result.database,
      ]);
      expect(rows).toHaveLength(0);
    } finally {
      await pool.end();
    }
  });
});
