/**
 * POST /admin/charge-master/reload on the real service (broker, registry, a scratch PostgreSQL,
 * the billing-engine simulator as the engine), with its charge master in a temp directory
 * (CHARGE_MASTER_DIR): a new price and version are swapped in and price the next charge; a
 * broken file is refused with its problems, counted and logged, and the previous table keeps
 * pricing.
 *
 * The service consumes the catalogue's shared topics, so its groups are set to the topics' ends
 * before it starts, and every charge uses its own MRN and filler order number. Another
 * billing-trigger on the stack (services.sh, another test) may price the same result with its
 * own table and publish the same charge event id; the events this one published are told apart
 * by their chargeMasterVersion, which only the temp directory's table carries. So the test reads
 * billing.charges.v1, not the simulator's ledger (its sender forwards whichever event came first).
 */
import {
  DEFAULT_CHARGE_MASTER_DIR,
  CHARGE_MASTER_FILE,
  CHARGE_MASTER_MANIFEST,
  loadChargeMaster,
} from '@ancillary/charge-master';
import {
  ChargeEventContract,
  topicCatalogue,
  Topics,
  type ChargeEvent,
} from '@ancillary/contracts';
import { Messaging, newMessageContext, provisionContracts } from '@ancillary/messaging-kafka';
import { metricsRegistry } from '@ancillary/observability';
import { BillingEngineSimulator } from '@ancillary/simulators';
import {
  captureLogger,
  createScratchDatabase,
  startGroupsAtEnd,
  testStack,
  uniqueName,
  waitFor,
  type ScratchDatabase,
} from '@ancillary/testing';
import type { Consumer } from 'kafkajs';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBillingTrigger, type BillingTriggerHandle } from './billing-trigger';
import { labResult } from '../test/completions.fixture';
import type { ChargeMasterSummary } from './charge-master.controller';

const stack = testStack();
const captured = captureLogger('charge-master-reload-int', 'info');
const logger = captured.logger;
let dir: string;
let messaging: Messaging;
let database: ScratchDatabase;
let sim: BillingEngineSimulator;
let service: BillingTriggerHandle;
let chargesTap: Consumer | undefined;
/** Every ChargeEvent on billing.charges.v1 since the service started (any producer). */
const charges: ChargeEvent[] = [];

/** The basic metabolic panel's row (LOINC 51990-0; 42.00 in the starter table) up to its price. */
const BMP_ROW = /^30000101,Basic metabolic panel,80048,,0301,LAB-CHEM,[^,]*,/m;

// ---------------------------------------------------------------------------------------------

/** Rewrites the temp directory's table: the BMP's unit price (any text) and the version. */
function editTable(version: string, bmpPrice: string): void {
  const csvPath = join(dir, CHARGE_MASTER_FILE);
  const csv = readFileSync(csvPath, 'utf8');
  expect(csv).toMatch(BMP_ROW);
  writeFileSync(
    csvPath,
    csv.replace(BMP_ROW, `30000101,Basic metabolic panel,80048,,0301,LAB-CHEM,${bmpPrice},`),
  );
  const manifestPath = join(dir, CHARGE_MASTER_MANIFEST);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(manifestPath, `${JSON.stringify({ ...manifest, version }, null, 2)}\n`);
}

async function reloads(result: string): Promise<number> {
  const metric = metricsRegistry().getSingleMetric('charge_master_reloads_total');
  const values = (await metric?.get())?.values ?? [];
  return values.find((v) => v.labels['result'] === result)?.value ?? 0;
}

async function tableInfo(): Promise<{ version: unknown; hash: unknown }[]> {
  const metric = metricsRegistry().getSingleMetric('charge_master_info');
  const values = (await metric?.get())?.values ?? [];
  return values
    .filter((v) => v.value === 1)
    .map((v) => ({ version: v.labels['version'], hash: v.labels['hash'] }));
}

const get = async (): Promise<{ status: number; body: ChargeMasterSummary }> => {
  const response = await fetch(`${service.url}/admin/charge-master`);
  return { status: response.status, body: (await response.json()) as ChargeMasterSummary };
};

const reload = async (): Promise<{ status: number; body: Record<string, unknown> }> => {
  const response = await fetch(`${service.url}/admin/charge-master/reload`, { method: 'POST' });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/**
 * Publishes a BMP result for a new patient and returns the charge event this service published
 * for it: the one priced with a table of the temp directory (version other than the starter's).
 */
async function chargeOneBmp(): Promise<ChargeEvent> {
  const mrn = uniqueName('MRN');
  await messaging.producer.publishBatch(Topics.clinicalResults, [
    {
      key: mrn,
      value: labResult(mrn, uniqueName('FIL'), {}, uniqueName('MSG'), 'charge-master-reload-int'),
      context: newMessageContext(),
    },
  ]);
  const ours = (c: ChargeEvent) =>
    c.patient.identifiers.some((i) => i.value === mrn) && c.chargeMasterVersion !== '2026.12.0';
  const charge = await waitFor(() => charges.find(ours), {
    timeoutMs: 30_000,
    description: `the charge event of ${mrn} priced by this service`,
  });
  // The decision was published once and reached the engine (whoever's event got there first).
  await sim.waitUntil(
    () => sim.ledger().find((l) => l.patientMrn === mrn),
    `the charge of ${mrn} on the ledger`,
  );
  expect(charges.filter(ours)).toHaveLength(1);
  return charge;
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'charge-master-reload-'));
  cpSync(DEFAULT_CHARGE_MASTER_DIR, dir, { recursive: true });

  database = await createScratchDatabase();
  messaging = new Messaging(
    {
      service: 'charge-master-reload-int-harness',
      brokers: stack.kafkaBrokers,
      registryUrl: stack.registryUrl,
    },
    logger,
  );
  await messaging.connect();
  await provisionContracts(messaging.kafka, messaging.codec, topicCatalogue, logger);

  sim = new BillingEngineSimulator({ port: 0 });
  await sim.start();

  const group = uniqueName('charge-master-reload-int');
  const senderPrefix = uniqueName('charge-master-reload-int');
  const chargesTapGroup = uniqueName('charge-master-reload-int-charges');
  await startGroupsAtEnd(messaging.kafka, [
    ...[
      Topics.clinicalResults,
      Topics.clinicalImagingReports,
      Topics.clinicalDispenses,
      Topics.clinicalOrders,
      Topics.clinicalOrdersStat,
    ].map((t) => [t.name, group] as const),
    [Topics.billingCharges.name, `${senderPrefix}-billing-sender`],
    [Topics.billingCharges.name, chargesTapGroup],
  ]);

  chargesTap = messaging.kafka.consumer({ groupId: chargesTapGroup, maxWaitTimeInMs: 100 });
  await chargesTap.connect();
  await chargesTap.subscribe({ topic: Topics.billingCharges.name });
  await chargesTap.run({
    eachMessage: async ({ message }) => {
      if (!message.value) return;
      charges.push(await messaging.codec.decode<ChargeEvent>(ChargeEventContract, message.value));
    },
  });

  service = await startBillingTrigger(
    {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      DATABASE_URL: database.url,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      CONSUMER_GROUP: group,
      CONSUMER_START: 'latest',
      BILLING_CONSUMER_GROUP_PREFIX: senderPrefix,
      BILLING_MLLP_PORT: String(sim.port),
      BILLING_RETRY_MAX_DELAY_MS: '1000',
      CHARGE_MASTER_DIR: dir,
      TIME_ZONE: 'America/New_York',
    },
    { logger, shutdownHooks: false },
  );
  await waitFor(async () => (await fetch(`${service.url}/ready`)).ok, {
    timeoutMs: 60_000,
    description: 'billing-trigger to be ready',
  });
}, 180_000);

afterAll(async () => {
  await (service as BillingTriggerHandle | undefined)?.close();
  await (sim as BillingEngineSimulator | undefined)?.stop();
  await chargesTap?.disconnect();
  await (messaging as Messaging | undefined)?.close();
  await (database as ScratchDatabase | undefined)?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('billing-trigger /admin/charge-master', () => {
  it('serves the table it loaded from CHARGE_MASTER_DIR, and a reload of the same files changes nothing', async () => {
    const loaded = loadChargeMaster(dir);
    const current = await get();
    expect(current).toEqual({
      status: 200,
      body: { version: '2026.12.0', hash: loaded.hash, entries: loaded.entries().length },
    });
    expect(await tableInfo()).toEqual([{ version: '2026.12.0', hash: loaded.hash }]);

    const unchangedBefore = await reloads('unchanged');
    const same = await reload();
    expect(same).toEqual({ status: 200, body: { ...current.body, changed: false } });
    expect(await reloads('unchanged')).toBe(unchangedBefore + 1);
  });

  it('swaps in a new price and version, which price the next charge', async () => {
    const before = (await get()).body;
    const changedBefore = await reloads('changed');
    editTable('2026.12.1', '47.50');

    const answer = await reload();
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      version: '2026.12.1',
      entries: before.entries,
      changed: true,
    });
    expect(answer.body['hash']).not.toBe(before.hash);
    expect(answer.body['hash']).toBe(loadChargeMaster(dir).hash);
    expect((await get()).body).toEqual({
      version: '2026.12.1',
      hash: answer.body['hash'],
      entries: before.entries,
    });
    expect(await reloads('changed')).toBe(changedBefore + 1);
    expect(await tableInfo()).toEqual([{ version: '2026.12.1', hash: answer.body['hash'] }]);
    expect(captured.lines().find((l) => l['msg'] === 'charge master reloaded')).toMatchObject({
      previousVersion: '2026.12.0',
      chargeMaster: { version: '2026.12.1', hash: answer.body['hash'] },
    });

    expect(await chargeOneBmp()).toMatchObject({
      chargeCode: '30000101',
      chargeMasterVersion: '2026.12.1',
      quantity: 1,
      unitPriceCents: 4750,
      extendedPriceCents: 4750,
    });
  }, 60_000);

  it('refuses an invalid table with 422 and its problems, and keeps pricing with the old one', async () => {
    const inUse = (await get()).body;
    expect(inUse.version).toBe('2026.12.1');
    const invalidBefore = await reloads('invalid');
    editTable('2026.12.2', 'forty-two');

    const refused = await reload();
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({
      error: 'charge master is invalid; the previous version stays in use',
      inUse,
    });
    expect(refused.body['detail']).toContain('charge-master.csv:2');
    expect(refused.body['detail']).toContain('unit_price');
    expect(await get()).toEqual({ status: 200, body: inUse });
    expect(await reloads('invalid')).toBe(invalidBefore + 1);
    expect(await tableInfo()).toEqual([{ version: inUse.version, hash: inUse.hash }]);
    expect(captured.lines()).toContainEqual(
      expect.objectContaining({
        msg: 'charge master reload refused; the previous table stays in use',
        level: 'error',
        inUse,
      }),
    );

    expect(await chargeOneBmp()).toMatchObject({
      chargeCode: '30000101',
      chargeMasterVersion: '2026.12.1',
      unitPriceCents: 4750,
    });
  }, 60_000);
});
