/**
 * The order loop (order-platform.fixture.ts) with billing behind it: billing-trigger started in
 * the same process and a simulated billing engine (BillingEngineSimulator) on a free port, so a
 * test can place an order through the EHR's FHIR API, let the simulated ancillary complete it,
 * and read the DFT^P03 the engine received.
 *
 * Composed, not woven in: the order platform is started as the order suites start it, and each
 * billing "deployment" (a billing-trigger and the engine it sends to) is separate — its own
 * scratch database for the `billing` schema, its own consumer groups set to the ends of the
 * shared topics before it starts, its own reversal style — so a test can add a second receiver
 * with another configuration, or stop one and move its offsets (a replay), without touching the
 * others.
 *
 * Taps (consumer groups at the ends of the topics, started before anything is sent) keep what
 * the platform published, for assertions on the real records: charge events, their dead
 * letters, completion dead letters and the LIS's raw ORUs (to resend one as the LIS would).
 * The topics are shared with every other run on the stack: tests filter by their own patients.
 */
import { startBillingTrigger, type BillingTriggerHandle } from '@ancillary/billing-trigger-service';
import {
  deadLetterTopicOf,
  Topics,
  type ChargeEvent,
  type LabResult,
  type RawHl7Envelope,
  type TopicDefinition,
} from '@ancillary/contracts';
import { headersToStrings, Messaging, type StringHeaders } from '@ancillary/messaging-kafka';
import type { Logger } from '@ancillary/observability';
import { BillingEngineSimulator } from '@ancillary/simulators';
import {
  createScratchDatabase,
  startGroupsAtEnd,
  testStack,
  uniqueName,
  waitFor,
  type ScratchDatabase,
} from '@ancillary/testing';
import type { Consumer, Kafka } from 'kafkajs';
import {
  startOrderPlatform,
  type OrderPlatform,
  type OrderPlatformOptions,
} from './order-platform.fixture';

/** The topics billing-trigger's decision group consumes (libs/services/billing-trigger). */
export const BILLING_INPUT_TOPICS: readonly TopicDefinition[] = [
  Topics.clinicalResults,
  Topics.clinicalImagingReports,
  Topics.clinicalDispenses,
  Topics.clinicalOrders,
  Topics.clinicalOrdersStat,
];

export type ReversalStyle = 'credit' | 'negative-charge';

export interface BillingDeploymentOptions {
  /** FT1-6 CD credit lines (default) or CG lines with negative quantity. */
  reversalStyle?: ReversalStyle;
  /** Extra BILLING_* / service settings over the defaults below. */
  env?: Record<string, string>;
}

/** One billing-trigger and the billing engine it sends to. */
export interface BillingDeployment {
  readonly sim: BillingEngineSimulator;
  /** The running service; replaced by `restart`. */
  readonly trigger: BillingTriggerHandle;
  /** The environment it was started with (CONSUMER_GROUP is the decisions' group). */
  readonly env: Readonly<Record<string, string>>;
  readonly reversalStyle: ReversalStyle;
  /**
   * The end offsets of clinical.results.v1 just before this deployment's group was created:
   * the earliest offset this deployment was ever meant to read.
   */
  readonly resultsStartOffsets: readonly { partition: number; offset: string }[];
  /**
   * Stops the service, runs `whileStopped` (e.g. moves its group's offsets: the group has no
   * member then), and starts it again with the same configuration.
   */
  restart(whileStopped?: (kafka: Kafka) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export interface DeadLetter<T> {
  headers: StringHeaders;
  value: T;
}

/** What the platform published while the suite ran (every run's records: filter them). */
export interface BillingTaps {
  charges: ChargeEvent[];
  chargeDeadLetters: DeadLetter<ChargeEvent>[];
  resultDeadLetters: DeadLetter<LabResult>[];
  /** Raw HL7 the lab gateway took from this run's LIS, as received. */
  labInbound: RawHl7Envelope[];
}

export interface BillingPlatform {
  orders: OrderPlatform;
  /** The main deployment: credit-style reversals, started with the platform. */
  billing: BillingDeployment;
  taps: BillingTaps;
  /** The suite's own Kafka client (admin, codec, producer) for the harness. */
  messaging: Messaging;
  /** Another billing-trigger + engine, stopped with the platform (or earlier by the test). */
  startBillingDeployment(options?: BillingDeploymentOptions): Promise<BillingDeployment>;
  stop(): Promise<void>;
}

export interface BillingPlatformOptions extends OrderPlatformOptions {
  billing?: BillingDeploymentOptions;
}

/** Settings of every deployment: retries kept short so an engine outage ends quickly. */
const BILLING_DEFAULTS: Readonly<Record<string, string>> = {
  BILLING_RETRY_MAX_DELAY_MS: '1000',
  BILLING_ACK_TIMEOUT_MS: '5000',
  BILLING_CONNECT_TIMEOUT_MS: '2000',
  TIME_ZONE: 'America/New_York',
};

export async function startBillingPlatform(
  logger: Logger,
  options: BillingPlatformOptions = {},
): Promise<BillingPlatform> {
  const stack = testStack();
  const stopping: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stopping.splice(0).reverse()) {
      await stop().catch((error: unknown) => {
        logger.warn({ err: error }, 'billing platform: a part did not stop cleanly');
      });
    }
  };
  try {
    const orders = await startOrderPlatform(logger, options);
    stopping.push(() => orders.stop());
    const messaging = new Messaging(
      {
        service: 'e2e-billing-harness',
        brokers: stack.kafkaBrokers,
        registryUrl: stack.registryUrl,
      },
      logger,
    );
    await messaging.connect();
    stopping.push(() => messaging.close());

    const taps = await startTaps(messaging, logger, orders.names.lis, stopping);
    const deploy = async (deployment: BillingDeploymentOptions = {}) => {
      const started = await startBillingDeployment(messaging.kafka, logger, deployment);
      stopping.push(() => started.stop());
      return started;
    };
    const billing = await deploy(options.billing);
    return {
      orders,
      billing,
      taps,
      messaging,
      startBillingDeployment: deploy,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function startBillingDeployment(
  kafka: Kafka,
  logger: Logger,
  options: BillingDeploymentOptions,
): Promise<BillingDeployment> {
  const stack = testStack();
  const reversalStyle = options.reversalStyle ?? 'credit';
  const group = uniqueName(`e2e-billing-${reversalStyle}`);
  const sim = new BillingEngineSimulator({ port: 0, logger });
  let database: ScratchDatabase | undefined;
  let trigger: BillingTriggerHandle | undefined;
  const stop = async () => {
    await trigger?.close();
    trigger = undefined;
    await sim.stop();
    await database?.drop();
    database = undefined;
  };
  try {
    await sim.start();
    database = await createScratchDatabase();
    const resultsStartOffsets = await endOffsets(kafka, Topics.clinicalResults.name);
    // Both groups start at the ends of the shared topics, set before the service joins.
    await startGroupsAtEnd(kafka, [
      ...BILLING_INPUT_TOPICS.map((t) => [t.name, group] as const),
      [Topics.billingCharges.name, `${group}-billing-sender`] as const,
    ]);
    const env: Record<string, string> = {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      DATABASE_URL: database.url,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      CONSUMER_GROUP: group,
      CONSUMER_START: 'latest',
      BILLING_CONSUMER_GROUP_PREFIX: group,
      BILLING_MLLP_PORT: String(sim.port),
      BILLING_REVERSAL_STYLE: reversalStyle,
      ...BILLING_DEFAULTS,
      ...options.env,
    };
    const start = async () => {
      const handle = await startBillingTrigger(env, { logger, shutdownHooks: false });
      await waitFor(async () => (await fetch(`${handle.url}/ready`)).ok, {
        timeoutMs: 60_000,
        description: `billing-trigger ${group} ready`,
      });
      return handle;
    };
    trigger = await start();
    return {
      sim,
      get trigger() {
        if (!trigger) throw new Error(`billing-trigger ${group} is stopped`);
        return trigger;
      },
      env,
      reversalStyle,
      resultsStartOffsets,
      async restart(whileStopped) {
        await trigger?.close();
        trigger = undefined;
        if (whileStopped) await whileStopped(kafka);
        trigger = await start();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The current end offset of every partition of a topic. */
export async function endOffsets(
  kafka: Kafka,
  topic: string,
): Promise<{ partition: number; offset: string }[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.map((p) => ({ partition: p.partition, offset: p.high }));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Commits offsets for a consumer group that has no member (a stopped service), retried while
 * the broker still counts the member that just left.
 */
export async function setGroupOffsets(
  kafka: Kafka,
  groupId: string,
  topic: string,
  partitions: readonly { partition: number; offset: string }[],
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      async () => {
        await admin.setOffsets({ groupId, topic, partitions: [...partitions] });
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 500, description: `offsets of ${groupId} on ${topic}` },
    );
  } finally {
    await admin.disconnect();
  }
}

async function startTaps(
  messaging: Messaging,
  logger: Logger,
  lisName: string,
  stopping: (() => Promise<unknown>)[],
): Promise<BillingTaps> {
  const taps: BillingTaps = {
    charges: [],
    chargeDeadLetters: [],
    resultDeadLetters: [],
    labInbound: [],
  };
  const decode = <T>(topic: TopicDefinition, value: Buffer) =>
    messaging.codec.decode<T>(topic.value, value);
  await tap(messaging, logger, stopping, Topics.billingCharges.name, async (message) => {
    taps.charges.push(await decode<ChargeEvent>(Topics.billingCharges, message.value));
  });
  await tap(
    messaging,
    logger,
    stopping,
    deadLetterTopicOf(Topics.billingCharges.name),
    async (message) => {
      taps.chargeDeadLetters.push({
        headers: message.headers,
        value: await decode<ChargeEvent>(Topics.billingCharges, message.value),
      });
    },
  );
  await tap(
    messaging,
    logger,
    stopping,
    deadLetterTopicOf(Topics.clinicalResults.name),
    async (message) => {
      taps.resultDeadLetters.push({
        headers: message.headers,
        value: await decode<LabResult>(Topics.clinicalResults, message.value),
      });
    },
  );
  await tap(messaging, logger, stopping, Topics.labHl7Inbound.name, async (message) => {
    const envelope = await decode<RawHl7Envelope>(Topics.labHl7Inbound, message.value);
    if (envelope.sourceSystem === lisName) taps.labInbound.push(envelope);
  });
  return taps;
}

/** A consumer group at the end of `topic` that hands every record to `onRecord`. */
async function tap(
  messaging: Messaging,
  logger: Logger,
  stopping: (() => Promise<unknown>)[],
  topic: string,
  onRecord: (message: { value: Buffer; headers: StringHeaders }) => Promise<void>,
): Promise<void> {
  const groupId = uniqueName(`e2e-billing-tap-${topic}`);
  await startGroupsAtEnd(messaging.kafka, [[topic, groupId]]);
  const consumer: Consumer = messaging.kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  stopping.push(() => consumer.disconnect());
  await consumer.subscribe({ topic });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (!message.value) return;
      try {
        await onRecord({ value: message.value, headers: headersToStrings(message.headers) });
      } catch (error) {
        // another run's record this suite cannot read: not ours, and no reason to stop the tap
        logger.warn({ err: error, topic }, 'billing tap: record skipped');
      }
    },
  });
}
