/**
 * The three lab-flow services started in one process against the real stack, isolated from
 * other runs: a fresh database, a copy of the terminology tables the test may edit, its own
 * consumer groups (starting at the end of the shared topics) and its own source-system name.
 */
import { startEhrWriter, type EhrWriterHandle } from '@ancillary/ehr-writer-service';
import { startLabGateway, type LabGatewayHandle } from '@ancillary/lab-gateway-service';
import { startNormalizer, type NormalizerHandle } from '@ancillary/normalizer-service';
import type { Logger } from '@ancillary/observability';
import { topicCatalogue } from '@ancillary/contracts';
import { Messaging, provisionContracts } from '@ancillary/messaging-kafka';
import { createScratchDatabase, testStack, uniqueName, waitFor } from '@ancillary/testing';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LabPlatform {
  sourceSystem: string;
  databaseUrl: string;
  terminologyDir: string;
  gateway: LabGatewayHandle;
  normalizer: NormalizerHandle;
  ehrWriter: EhrWriterHandle;
  stop(): Promise<void>;
}

/**
 * Creates the catalogue's topics and registers its schemas, as `npm run contracts:provision`
 * does before a deployment starts the services (services never create topics themselves).
 */
export async function provisionCatalogue(logger: Logger): Promise<void> {
  const stack = testStack();
  const messaging = new Messaging(
    { service: 'e2e-provisioner', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
    logger,
  );
  try {
    await provisionContracts(messaging.kafka, messaging.codec, topicCatalogue, logger);
  } finally {
    await messaging.close();
  }
}

export async function startLabPlatform(logger: Logger): Promise<LabPlatform> {
  const stack = testStack();
  await provisionCatalogue(logger);
  const suffix = uniqueName('e2e')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
  const scratch = await createScratchDatabase();
  const databaseUrl = scratch.url;
  const terminologyDir = mkdtempSync(join(tmpdir(), 'terminology-'));
  cpSync(join(__dirname, '../../../libs/terminology/data'), terminologyDir, { recursive: true });
  const sourceSystem = `lis-${suffix}`;

  const common = {
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    CONSUMER_START: 'latest',
  };
  const options = { logger, shutdownHooks: false };
  const ehrWriter = await startEhrWriter(
    { ...common, DATABASE_URL: databaseUrl, CONSUMER_GROUP: `ehr-writer-${suffix}` },
    options,
  );
  const normalizer = await startNormalizer(
    {
      ...common,
      CONSUMER_GROUP: `normalizer-${suffix}`,
      TERMINOLOGY_DIR: terminologyDir,
      TERMINOLOGY_WATCH: 'false',
    },
    options,
  );
  const gateway = await startLabGateway(
    {
      ...common,
      SOURCE_SYSTEM: sourceSystem,
      MLLP_PORT: '0',
      DATABASE_URL: databaseUrl,
      // Results only: orders are order-flow.int-spec's subject.
      ORDERS_ENABLED: 'false',
    },
    options,
  );
  // Consumers that start at the end must have joined before anything is sent.
  for (const service of [normalizer, ehrWriter]) {
    await waitFor(async () => (await fetch(`${service.url}/ready`)).ok, {
      timeoutMs: 60_000,
      description: `${service.url}/ready`,
    });
  }
  return {
    sourceSystem,
    databaseUrl,
    terminologyDir,
    gateway,
    normalizer,
    ehrWriter,
    async stop() {
      await gateway.close();
      await normalizer.close();
      await ehrWriter.close();
      rmSync(terminologyDir, { recursive: true, force: true });
      await scratch.drop();
    },
  };
}

/** GET on the FHIR API, as JSON, asserting the FHIR content type. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape it expects
export async function fhirGet<T>(base: string, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}/${path}`, { signal: AbortSignal.timeout(10_000) });
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('application/fhir+json')) {
    throw new Error(`${path}: content type ${type}, expected application/fhir+json`);
  }
  return { status: response.status, body: (await response.json()) as T };
}
