/**
 * Settings every Kafka service shares, and the translation of validated environment into the
 * messaging options, so that each service's config file lists only what is its own.
 */
import { kafkaEnvSchema, positiveInt, serviceEnvSchema } from '@ancillary/config';
import type { MessagingOptions } from '@ancillary/messaging-kafka';
import { z } from 'zod';

export const kafkaServiceEnvSchema = serviceEnvSchema.extend(kafkaEnvSchema.shape).extend({
  /** How long a publish may wait for the broker's acknowledgement before it fails. */
  KAFKA_PUBLISH_TIMEOUT_MS: positiveInt.default(10_000),
  /** Partitions a consumer group works on at once (order holds within a partition). */
  CONSUMER_CONCURRENCY: positiveInt.default(3),
  /**
   * Where a consumer group with no committed offsets starts: the beginning (default, nothing
   * published before a service's first start is missed) or the end (scratch groups in tests).
   */
  CONSUMER_START: z.enum(['earliest', 'latest']).default('earliest'),
});

export type KafkaServiceEnv = z.infer<typeof kafkaServiceEnvSchema>;

/** Consumer settings for MessagingModule's `consumer` option. */
export function consumerDefaultsFrom(env: KafkaServiceEnv): {
  partitionsConsumedConcurrently: number;
  fromBeginning: boolean;
} {
  return {
    partitionsConsumedConcurrently: env.CONSUMER_CONCURRENCY,
    fromBeginning: env.CONSUMER_START === 'earliest',
  };
}

export function messagingOptionsFrom(env: KafkaServiceEnv): MessagingOptions {
  return {
    service: env.SERVICE_NAME,
    brokers: env.KAFKA_BROKERS,
    registryUrl: env.SCHEMA_REGISTRY_URL,
    publishTimeoutMs: env.KAFKA_PUBLISH_TIMEOUT_MS,
    ...(env.KAFKA_CLIENT_ID ? { kafka: { clientId: env.KAFKA_CLIENT_ID } } : {}),
  };
}
