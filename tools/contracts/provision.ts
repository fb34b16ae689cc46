/**
 * The deployment's provisioning step: registers every contract of the topic catalogue under
 * `<topic>-value` and creates every topic with its dead-letter topic. Run before the services
 * start (`npm run contracts:provision`, or the Kubernetes Job in deploy/). A schema change that
 * breaks backward compatibility makes it fail with exit status 1 and the subject named.
 */
import { kafkaEnvSchema, positiveInt } from '@ancillary/config';
import { topicCatalogue } from '@ancillary/contracts';
import { provisionContracts } from '@ancillary/messaging-kafka';
import { z } from 'zod';
import { bootstrapTool, runTool, toolKafka } from '../common/tool-bootstrap';

const schema = kafkaEnvSchema.extend({
  TOPIC_PARTITIONS: positiveInt.optional(),
  TOPIC_REPLICATION_FACTOR: z.coerce.number().int().min(-1).optional(),
});

async function main(): Promise<void> {
  const { config, logger } = bootstrapTool('contracts-provisioner', schema);
  const { kafka, codec } = toolKafka('contracts-provisioner', config, logger);
  const report = await provisionContracts(kafka, codec, topicCatalogue, logger, {
    ...(config.TOPIC_PARTITIONS !== undefined ? { partitions: config.TOPIC_PARTITIONS } : {}),
    ...(config.TOPIC_REPLICATION_FACTOR !== undefined
      ? { replicationFactor: config.TOPIC_REPLICATION_FACTOR }
      : {}),
  });
  for (const { subject, id } of report.subjects) console.log(`schema  ${subject} -> id ${id}`);
  for (const topic of report.createdTopics) console.log(`topic   ${topic} (created)`);
  for (const topic of report.existingTopics) console.log(`topic   ${topic} (exists)`);
}

runTool(main, { failurePrefix: 'provisioning failed' });
