/**
 * The whole order loop in one process against the real stack: the ehr-writer (FHIR API, order
 * outbox), the normalizer, the lab, radiology and pharmacy gateways — plus a second pharmacy
 * gateway for an API-first pharmacy that takes orders as FHIR — and the simulated LIS, RIS,
 * MLLP pharmacy and FHIR pharmacy on free loopback ports.
 *
 * Isolated from other runs like the lab fixture: a scratch database, a copy of the terminology
 * tables whose order routes name this run's connections (so other runs' gateways skip its
 * orders and it skips theirs), its own consumer groups, started at the end of the shared topics.
 */
import { Topics } from '@ancillary/contracts';
import { startEhrWriter, type EhrWriterHandle } from '@ancillary/ehr-writer-service';
import { startLabGateway } from '@ancillary/lab-gateway-service';
import type { AncillaryGatewayHandle } from '@ancillary/mllp-gateway';
import { startNormalizer, type NormalizerHandle } from '@ancillary/normalizer-service';
import type { Logger } from '@ancillary/observability';
import { Messaging } from '@ancillary/messaging-kafka';
import { startPharmacyGateway } from '@ancillary/pharmacy-gateway-service';
import { startRadiologyGateway } from '@ancillary/radiology-gateway-service';
import {
  EhrOrderClient,
  FhirPharmacyAncillary,
  LisAncillary,
  PharmacyAncillary,
  RisAncillary,
} from '@ancillary/simulators';
import { loadTerminology } from '@ancillary/terminology';
import {
  createScratchDatabase,
  freePort,
  startGroupsAtEnd,
  testStack,
  uniqueName,
  waitFor,
} from '@ancillary/testing';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { provisionCatalogue } from './platform.fixture';

/** RxNorm code the routes send to the FHIR pharmacy (lisinopril 10 mg tablet) in this fixture. */
export const FHIR_PHARMACY_RXNORM = '314076';

export interface OrderPlatform {
  /** This run's connection names (OrderEvent destinations and gateways' SOURCE_SYSTEM). */
  names: { lis: string; ris: string; pharmacy: string; fhirPharmacy: string };
  ehr: EhrOrderClient;
  fhirBaseUrl: string;
  ehrWriter: EhrWriterHandle;
  normalizer: NormalizerHandle;
  gateways: {
    lab: AncillaryGatewayHandle<unknown>;
    radiology: AncillaryGatewayHandle<unknown>;
    pharmacy: AncillaryGatewayHandle<unknown>;
    fhirPharmacy: AncillaryGatewayHandle<unknown>;
  };
  lis: LisAncillary;
  ris: RisAncillary;
  pharmacy: PharmacyAncillary;
  fhirPharmacy: FhirPharmacyAncillary;
  stop(): Promise<void>;
}

/**
 * order-routes.csv with this run's destinations, and one extra row (exact codes win over `*`)
 * sending FHIR_PHARMACY_RXNORM to the FHIR pharmacy.
 */
function writeRoutes(dir: string, names: OrderPlatform['names']): void {
  const file = join(dir, 'order-routes.csv');
  const rewritten = readFileSync(file, 'utf8')
    .replace(/,lis-main,/g, `,${names.lis},`)
    .replace(/,ris-main,/g, `,${names.ris},`)
    .replace(/,pharmacy-main,/g, `,${names.pharmacy},`);
  writeFileSync(file, rewritten);
  appendFileSync(
    file,
    `PHARMACY,http://www.nlm.nih.gov/research/umls/rxnorm,${FHIR_PHARMACY_RXNORM},${names.fhirPharmacy},NWH-RX,e2e: lisinopril from the API-first pharmacy\n`,
  );
}

export interface OrderPlatformOptions {
  /** Order to result in the simulators, ms (STAT: half); default 2000 — long enough to cancel. */
  resultDelayMs?: number;
}

export async function startOrderPlatform(
  logger: Logger,
  options: OrderPlatformOptions = {},
): Promise<OrderPlatform> {
  const stack = testStack();
  await provisionCatalogue(logger);
  const suffix = uniqueName('e2e')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
  const names = {
    lis: `lis-${suffix}`,
    ris: `ris-${suffix}`,
    pharmacy: `rx-${suffix}`,
    fhirPharmacy: `rxfhir-${suffix}`,
  };
  const scratch = await createScratchDatabase();
  const terminologyDir = mkdtempSync(join(tmpdir(), 'terminology-'));
  cpSync(join(__dirname, '../../../libs/terminology/data'), terminologyDir, { recursive: true });
  writeRoutes(terminologyDir, names);
  const terminology = loadTerminology(terminologyDir);

  const stopping: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stopping.splice(0).reverse()) {
      await stop().catch((error: unknown) => {
        logger.warn({ err: error }, 'order platform: a part did not stop cleanly');
      });
    }
  };
  stopping.push(() => scratch.drop());
  stopping.push(() => {
    rmSync(terminologyDir, { recursive: true, force: true });
    return Promise.resolve();
  });

  try {
    // Each gateway's order consumers start at the end of the order topics, set before they join.
    const messaging = new Messaging(
      { service: 'e2e-orders-admin', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
      logger,
    );
    try {
      await startGroupsAtEnd(
        messaging.kafka,
        Object.values(names).flatMap((name) => [
          [Topics.clinicalOrders.name, `${name}-orders`] as const,
          [Topics.clinicalOrdersStat.name, `${name}-orders-stat`] as const,
        ]),
      );
    } finally {
      await messaging.close();
    }

    const common = {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      CONSUMER_START: 'latest',
      TERMINOLOGY_DIR: terminologyDir,
      TERMINOLOGY_WATCH: 'false',
    };
    const start = { logger, shutdownHooks: false };
    const ehrWriter = await startEhrWriter(
      {
        ...common,
        DATABASE_URL: scratch.url,
        CONSUMER_GROUP: `ehr-writer-${suffix}`,
        OUTBOX_POLL_INTERVAL_MS: '200',
      },
      start,
    );
    stopping.push(() => ehrWriter.close());
    const normalizer = await startNormalizer(
      { ...common, CONSUMER_GROUP: `normalizer-${suffix}` },
      start,
    );
    stopping.push(() => normalizer.close());

    // Each gateway sends orders to a simulator that is started after it (the simulator needs the
    // gateway's inbound port for its results): the gateway retries until the simulator listens.
    const gatewayEnv = (name: string, orders: Record<string, string>) => ({
      ...common,
      SOURCE_SYSTEM: name,
      MLLP_PORT: '0',
      DATABASE_URL: scratch.url,
      ORDERS_CONSUMER_GROUP_PREFIX: name,
      ORDERS_RETRY_MAX_DELAY_MS: '1000',
      ORDERS_ACK_TIMEOUT_MS: '15000',
      ...orders,
    });
    const ports = { lis: await freePort(), ris: await freePort(), pharmacy: await freePort() };
    const fhirPharmacyPort = await freePort();
    const lab = await startLabGateway(
      gatewayEnv(names.lis, { ORDERS_MLLP_PORT: String(ports.lis) }),
      start,
    );
    stopping.push(() => lab.close());
    const radiology = await startRadiologyGateway(
      gatewayEnv(names.ris, { ORDERS_MLLP_PORT: String(ports.ris) }),
      start,
    );
    stopping.push(() => radiology.close());
    const pharmacy = await startPharmacyGateway(
      gatewayEnv(names.pharmacy, {
        ORDERS_MLLP_PORT: String(ports.pharmacy),
        FHIR_INBOUND_ENABLED: 'false',
      }),
      start,
    );
    stopping.push(() => pharmacy.close());
    const fhirPharmacyGateway = await startPharmacyGateway(
      gatewayEnv(names.fhirPharmacy, {
        ORDERS_TRANSPORT: 'fhir',
        ORDERS_FHIR_URL: `http://127.0.0.1:${fhirPharmacyPort}/fhir`,
      }),
      start,
    );
    stopping.push(() => fhirPharmacyGateway.close());

    const resultDelayMs = options.resultDelayMs ?? 2000;
    const runId = suffix.slice(-8).toUpperCase();
    const simulator = { terminology, resultDelayMs, runId, logger } as const;
    const lis = new LisAncillary({
      ...simulator,
      port: ports.lis,
      resultPort: lab.mllpPort,
      criticalShare: 0,
    });
    const ris = new RisAncillary({ ...simulator, port: ports.ris, resultPort: radiology.mllpPort });
    const rx = new PharmacyAncillary({
      ...simulator,
      port: ports.pharmacy,
      resultPort: pharmacy.mllpPort,
    });
    const fhirRx = new FhirPharmacyAncillary({
      ...simulator,
      port: fhirPharmacyPort,
      gatewayUrl: fhirPharmacyGateway.url,
      sourceSystem: names.fhirPharmacy,
    });
    for (const sim of [lis, ris, rx, fhirRx]) {
      await sim.start();
      stopping.push(() => sim.stop());
    }

    // Consumers that start at the end must have joined before anything is sent.
    for (const service of [normalizer, ehrWriter, lab, radiology, pharmacy, fhirPharmacyGateway]) {
      await waitFor(async () => (await fetch(`${service.url}/ready`)).ok, {
        timeoutMs: 60_000,
        description: `${service.url}/ready`,
      });
    }
    return {
      names,
      ehr: new EhrOrderClient({ baseUrl: ehrWriter.fhirBaseUrl }),
      fhirBaseUrl: ehrWriter.fhirBaseUrl,
      ehrWriter,
      normalizer,
      gateways: { lab, radiology, pharmacy, fhirPharmacy: fhirPharmacyGateway },
      lis,
      ris,
      pharmacy: rx,
      fhirPharmacy: fhirRx,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
