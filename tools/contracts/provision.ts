/**
 * The deployment's provisioning step: registers every contract of the topic catalogue under
 * `<topic>-value` and creates every topic with its dead-letter topic. Run before the services
 * start (`npm run contracts:provision`, or the Kubernetes Job in deploy/). A schema change that
 * breaks backward compatibility makes it fail with exit status 1 and the subject named.
 */
import { assertSupportedNode, kafkaEnvSchema, loadConfig, positiveInt } from '@ancillary/config';
import { topicCatalogue } from '@ancillary/contracts';
import { Messaging, provisionContracts } from '@ancillary/messaging-kafka';
import { createLogger } from '@ancillary/observability';
import { z } from 'zod';

const schema = kafkaEnvSchema.extend({
  TOPIC_PARTITIONS: positiveInt.optional(),
  TOPIC_REPLICATION_FACTOR: z.coerce.number().int().min(-1).optional(),
});

async function main(): Promise<void> {
  assertSupportedNode();
  const config = loadConfig(schema);
  const logger = createLogger({ service: 'contracts-provisioner', level: 'warn' });
  const messaging = new Messaging(
    {
      service: 'contracts-provisioner',
      brokers: config.KAFKA_BROKERS,
      registryUrl: config.SCHEMA_REGISTRY_URL,
    },
    logger,
  );
  try {
    const report = await provisionContracts(
      messaging.kafka,
      messaging.codec,
      topicCatalogue,
      logger,
      {
        ...(config.TOPIC_PARTITIONS !== undefined ? { partitions: config.TOPIC_PARTITIONS } : {}),
        ...(config.TOPIC_REPLICATION_FACTOR !== undefined
          ? { replicationFactor: config.TOPIC_REPLICATION_FACTOR }
          : {}),
      },
    );
    for (const { subject, id } of report.subjects) console.log(`schema  ${subject} -> id ${id}`);
    for (const topic of report.createdTopics) console.log(`topic   ${topic} (created)`);
    for (const topic of report.existingTopics) console.log(`topic   ${topic} (exists)`);
  } finally {
    await messaging.close();
  }
}

main().catch((error: unknown) => {
  console.error(`provisioning failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
