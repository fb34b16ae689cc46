/**
 * Creates every topic of the catalogue (and its dead-letter topic) and registers every value
 * schema under `<topic>-value`. Safe to run on every start: existing topics are kept, and
 * re-registering an unchanged schema returns its id. A schema that breaks the subject's
 * compatibility rule fails the whole step (SchemaCompatibilityError) — loudly, before any
 * service can produce a record that consumers could not read.
 */
import { deadLetterTopicOf, valueSubjectOf, type TopicDefinition } from '@ancillary/contracts';
import type { Logger } from '@ancillary/observability';
import type { ITopicConfig, Kafka } from 'kafkajs';
import type { AvroCodec } from './avro.codec';

export interface ProvisioningOptions {
  /** Replication factor for new topics; -1 uses the broker's default.replication.factor. */
  replicationFactor?: number;
  /** Partition override for every topic (e.g. 1 for a laptop); default: the catalogue's. */
  partitions?: number;
  /** Dead-letter topics keep their records this long (ms); default 90 days. */
  deadLetterRetentionMs?: number;
}

export interface ProvisioningReport {
  createdTopics: string[];
  existingTopics: string[];
  subjects: { subject: string; id: number }[];
}

const NINETY_DAYS_MS = 90 * 24 * 60 * 60 * 1000;

export async function provisionTopics(
  kafka: Kafka,
  topics: readonly TopicDefinition[],
  logger: Logger,
  options: ProvisioningOptions = {},
): Promise<Pick<ProvisioningReport, 'createdTopics' | 'existingTopics'>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const wanted: ITopicConfig[] = topics.flatMap((t) => [
      {
        topic: t.name,
        numPartitions: options.partitions ?? t.partitions,
        replicationFactor: options.replicationFactor ?? -1,
        configEntries: [
          { name: 'retention.ms', value: String(t.retentionMs) },
          { name: 'cleanup.policy', value: 'delete' },
        ],
      },
      {
        topic: deadLetterTopicOf(t.name),
        numPartitions: 1,
        replicationFactor: options.replicationFactor ?? -1,
        configEntries: [
          { name: 'retention.ms', value: String(options.deadLetterRetentionMs ?? NINETY_DAYS_MS) },
        ],
      },
    ]);
    const missing = wanted.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    }
    const createdTopics = missing.map((t) => t.topic);
    const existingTopics = wanted.filter((t) => existing.has(t.topic)).map((t) => t.topic);
    logger.info({ createdTopics, existingTopics: existingTopics.length }, 'topics provisioned');
    return { createdTopics, existingTopics };
  } finally {
    await admin.disconnect();
  }
}

export async function registerSchemas(
  codec: AvroCodec,
  topics: readonly TopicDefinition[],
  logger: Logger,
): Promise<ProvisioningReport['subjects']> {
  const subjects: ProvisioningReport['subjects'] = [];
  for (const topic of topics) {
    const subject = valueSubjectOf(topic.name);
    const id = await codec.register(subject, topic.value);
    subjects.push({ subject, id });
  }
  logger.info({ subjects }, 'schemas registered');
  return subjects;
}

/** Topics and schemas together: what a deployment runs once before the services start. */
export async function provisionContracts(
  kafka: Kafka,
  codec: AvroCodec,
  topics: readonly TopicDefinition[],
  logger: Logger,
  options: ProvisioningOptions = {},
): Promise<ProvisioningReport> {
  // Schemas first: an incompatible schema must stop the rollout before topics change.
  const subjects = await registerSchemas(codec, topics, logger);
  const created = await provisionTopics(kafka, topics, logger, options);
  return { ...created, subjects };
}

/**
 * Deletes topics, their dead-letter topics and their value subjects (test clean-up and
 * tooling; the registry must allow deletions). Missing topics and subjects are not errors.
 */
export async function deleteTopics(
  kafka: Kafka,
  registryUrl: string,
  topics: readonly Pick<TopicDefinition, 'name'>[],
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const doomed = topics
      .flatMap((t) => [t.name, deadLetterTopicOf(t.name)])
      .filter((t) => existing.has(t));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed });
  } finally {
    await admin.disconnect();
  }
  const base = registryUrl.replace(/\/+$/, '');
  for (const topic of topics) {
    const subject = encodeURIComponent(valueSubjectOf(topic.name));
    // Soft delete, then permanent delete, as the Confluent API requires.
    await fetch(`${base}/subjects/${subject}`, {
      method: 'DELETE',
      signal: AbortSignal.timeout(10_000),
    });
    await fetch(`${base}/subjects/${subject}?permanent=true`, {
      method: 'DELETE',
      signal: AbortSignal.timeout(10_000),
    });
  }
}
