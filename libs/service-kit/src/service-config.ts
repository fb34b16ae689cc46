/**
 * Settings every Kafka service shares, and the translation of validated environment into the
 * messaging options, so that each service's config file lists only what is its own.
 */
import { kafkaEnvSchema, positiveInt, serviceEnvSchema } from '@ancillary/config';
import type { MessagingOptions } from '@ancillary/messaging-kafka';
import type { z } from 'zod';

export const kafkaServiceEnvSchema = serviceEnvSchema.extend(kafkaEnvSchema.shape).extend({
  /** How long a publish may wait for the broker's acknowledgement before it fails. */
  KAFKA_PUBLISH_TIMEOUT_MS: positiveInt.default(10_000),
});

export type KafkaServiceEnv = z.infer<typeof kafkaServiceEnvSchema>;

export function messagingOptionsFrom(env: KafkaServiceEnv): MessagingOptions {
  return {
    service: env.SERVICE_NAME,
    brokers: env.KAFKA_BROKERS,
    registryUrl: env.SCHEMA_REGISTRY_URL,
    publishTimeoutMs: env.KAFKA_PUBLISH_TIMEOUT_MS,
    ...(env.KAFKA_CLIENT_ID ? { kafka: { clientId: env.KAFKA_CLIENT_ID } } : {}),
  };
}
