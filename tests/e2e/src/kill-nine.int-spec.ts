/**
 * At-least-once plus idempotence, proven the hard way: during a 2,000-message stream the
 * normalizer and then the ehr-writer are killed with SIGKILL (no shutdown, offsets in hand
 * uncommitted) and restarted. The chart must end with exactly 2,000 reports, none twice, and
 * the reconcile command (the go-live audit) must account for every message.
 */
import { Topics } from '@ancillary/contracts';
import { startLabGateway, type LabGatewayHandle } from '@ancillary/lab-gateway-service';
import { MllpClient } from '@ancillary/hl7-mllp';
import { Messaging } from '@ancillary/messaging-kafka';
import { reconcile } from '@ancillary/ops';
import {
  captureLogger,
  createScratchDatabase,
  freePort,
  testStack,
  uniqueName,
  waitFor,
  type ScratchDatabase,
} from '@ancillary/testing';
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { provisionCatalogue } from './platform.fixture';

const TOTAL = 2_000;
const ROOT = join(__dirname, '../../..');
const stack = testStack();
const { logger } = captureLogger('kill-nine', 'error');
const suffix = uniqueName('k9')
  .toLowerCase()
  .replace(/[^a-z0-9]/g, '');
const sourceSystem = `lis-${suffix}`;
const fillerPrefix = `FK9${suffix.slice(-8).toUpperCase()}`;
let scratch: ScratchDatabase | undefined;
let databaseUrl: string;
let pool: Pool;
let messaging: Messaging;
let gateway: LabGatewayHandle | undefined;

/** A service as its own OS process, the way it runs in production (apps/<name>/src/main.ts). */
class ServiceProcess {
  private child: ChildProcess | undefined;
  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
    private readonly port: number,
  ) {}

  async start(): Promise<void> {
    const log = openSync(join(tmpdir(), `${suffix}-${this.name}.log`), 'a');
    this.child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', `apps/${this.name}/src/main.ts`],
      {
        cwd: ROOT,
        env: {
          PATH: process.env['PATH'] ?? '',
          NODE_OPTIONS: '--disable-warning=TimeoutNegativeWarning',
          HTTP_HOST: '127.0.0.1',
          HTTP_PORT: String(this.port),
          LOG_LEVEL: 'warn',
          KAFKA_BROKERS: stack.kafkaBrokers.join(','),
          SCHEMA_REGISTRY_URL: stack.registryUrl,
          ...this.env,
        },
        stdio: ['ignore', log, log],
      },
    );
    const child = this.child;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${this.name} exited with ${child.exitCode}`);
        const response = await fetch(`http://127.0.0.1:${this.port}/ready`).catch(() => undefined);
        return response?.ok;
      },
      { timeoutMs: 90_000, intervalMs: 250, description: `${this.name} ready` },
    );
  }

  /** SIGKILL: no shutdown hook runs, nothing in hand is committed. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

function oru(n: number): string {
  const filler = `${fillerPrefix}-${n}`;
  const k = (3.5 + (n % 16) / 10).toFixed(1);
  return [
    `MSH|^~\\&|SIMLIS|NWH-LAB|EHR|NWH|20261126080000||ORU^R01^ORU_R01|${suffix}-${n}|P|2.5.1`,
    `PID|1||K9-${suffix}-${n % 50}^^^NWH^MR||Stream^Pat${n % 50}||19800101|M`,
    `ORC|RE|P${filler}|${filler}`,
    `OBR|1|P${filler}|${filler}|BMP^Basic metabolic panel^L|||20261126071500|||||||||||||||20261126075500|||F`,
    'OBX|1|NM|NA^Sodium^L||140|mmol/L|136-145|N|||F',
    `OBX|2|NM|K^Potassium^L||${k}|mmol/L|3.5-5.1|N|||F`,
    'OBX|3|NM|GLU^Glucose^L||95|mg/dL|70-99|N|||F',
  ].join('\r');
}

async function ledgerCount(): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM fhir.message_ledger WHERE source_system = $1',
    [sourceSystem],
  );
  return Number(rows[0]?.n ?? 0);
}

const services: ServiceProcess[] = [];

beforeAll(async () => {
  await provisionCatalogue(logger);
  const database = await createScratchDatabase();
  scratch = database;
  databaseUrl = database.url;
  pool = database.pool(2);

  messaging = new Messaging(
    { service: 'kill-nine', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
    logger,
  );
  await messaging.connect();
  // New consumer groups start where the shared topics end now (committed before the first
  // start), so a restart resumes from commits and history from other runs is not replayed.
  const kafkaAdmin = messaging.kafka.admin();
  await kafkaAdmin.connect();
  for (const [group, topic] of [
    [`normalizer-${suffix}`, Topics.labHl7Inbound.name],
    [`ehr-writer-${suffix}`, Topics.clinicalResults.name],
  ] as const) {
    // Explicit end offsets: kafkajs' resetOffsets(earliest: false) commits the marker -1, which
    // a joining consumer treats as "no offset" and so reads from the beginning.
    // Retried: right after provisioning a new topic the broker may not have elected its leader.
    const ends = await waitFor(() => kafkaAdmin.fetchTopicOffsets(topic), {
      description: `the end offsets of ${topic}`,
    });
    await kafkaAdmin.setOffsets({
      groupId: group,
      topic,
      partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
    });
  }
  await kafkaAdmin.disconnect();
}, 120_000);

afterAll(async () => {
  // Guarded: after a failed set-up, clean up what exists without hiding the set-up's error.
  await gateway?.close();
  for (const s of services) await s.stop();
  await messaging.close();
  await scratch?.drop();
}, 120_000);

it(`keeps exactly ${TOTAL} reports through a SIGKILL of the normalizer and of the ehr-writer`, async () => {
  const normalizer = new ServiceProcess(
    'normalizer',
    { CONSUMER_GROUP: `normalizer-${suffix}`, TERMINOLOGY_WATCH: 'false' },
    await freePort(),
  );
  const ehrWriter = new ServiceProcess(
    'ehr-writer',
    { CONSUMER_GROUP: `ehr-writer-${suffix}`, DATABASE_URL: databaseUrl },
    await freePort(),
  );
  services.push(normalizer, ehrWriter);
  await ehrWriter.start();
  await normalizer.start();
  const lab = await startLabGateway(
    {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      SOURCE_SYSTEM: sourceSystem,
      MLLP_PORT: '0',
      HTTP_PORT: '0',
      LOG_LEVEL: 'error',
      // Results only: orders are order-flow.int-spec's subject.
      ORDERS_ENABLED: 'false',
    },
    { logger, shutdownHooks: false },
  );
  gateway = lab;
  const since = new Date(Date.now() - 1_000);

  const connections = 4;
  const clients = Array.from(
    { length: connections },
    () => new MllpClient({ host: '127.0.0.1', port: lab.mllpPort, ackTimeoutMs: 30_000 }),
  );
  let next = 0;
  let acked = 0;
  const killed: string[] = [];
  const sender = async (client: MllpClient) => {
    for (;;) {
      const n = next++;
      if (n >= TOTAL) return;
      const ack = await client.send(oru(n));
      expect(ack.code).toBe('AA');
      acked += 1;
    }
  };
  const chaos = async () => {
    await waitFor(async () => (await ledgerCount()) >= 400, {
      timeoutMs: 120_000,
      description: '400 written',
    });
    await normalizer.kill();
    killed.push(`normalizer at ${await ledgerCount()} written`);
    await normalizer.start();
    await waitFor(async () => (await ledgerCount()) >= 1_100, {
      timeoutMs: 120_000,
      description: '1100 written',
    });
    await ehrWriter.kill();
    killed.push(`ehr-writer at ${await ledgerCount()} written`);
    await ehrWriter.start();
  };
  await Promise.all([...clients.map(sender), chaos()]);
  await Promise.all(clients.map((c) => c.close()));
  expect(acked).toBe(TOTAL);
  expect(killed).toHaveLength(2);

  await waitFor(async () => (await ledgerCount()) >= TOTAL, {
    timeoutMs: 180_000,
    intervalMs: 500,
    description: `${TOTAL} results in the ledger`,
  });
  await new Promise((resolve) => setTimeout(resolve, 3_000)); // nothing more arrives

  const { rows } = await pool.query<{ reports: string; max_version: number; ledger: string }>(
    `SELECT (SELECT count(*) FROM fhir.resource
              WHERE resource_type = 'DiagnosticReport' AND content::text LIKE $1) AS reports,
            (SELECT max(version_id) FROM fhir.resource
              WHERE resource_type = 'DiagnosticReport' AND content::text LIKE $1) AS max_version,
            (SELECT count(*) FROM fhir.message_ledger WHERE source_system = $2) AS ledger`,
    [`%${fillerPrefix}-%`, sourceSystem],
  );
  expect(Number(rows[0]!.reports)).toBe(TOTAL); // exactly 2,000 reports
  expect(rows[0]!.max_version).toBe(1); // none written twice
  expect(Number(rows[0]!.ledger)).toBe(TOTAL);

  const audit = await reconcile({
    kafka: messaging.kafka,
    codec: messaging.codec,
    pool,
    logger,
    since,
    sourceSystem,
  });
  expect(audit.examined).toBe(TOTAL);
  expect(audit.missing).toEqual([]);
  expect(audit.counts['in-chart']).toBe(TOTAL);
}, 600_000);
