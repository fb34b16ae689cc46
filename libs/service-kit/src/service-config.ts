/**
 * Settings every Kafka service shares, and the translation of validated environment into the
 * messaging options, so that each service's config file lists only what is its own.
 */
import { kafkaEnvSchema, positiveInt, serviceEnvSchema } from '@ancillary/config';
import type { MessagingOptions } from '@ancillary/messaging-kafka';
import type { RetryPolicy } from '@ancillary/retry';
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
  /**
   * Attempts of a record whose handler fails with a retriable error (database, broker, registry
   * unavailable) before it is dead-lettered. The partition waits meanwhile (order is kept, the
   * group membership is kept alive). The default, 120 attempts with delays growing to 30 s
   * (full jitter), rides out roughly half an hour of outage — a database failover or a restart —
   * instead of dead-lettering every record in hand after a few seconds.
   */
  CONSUMER_RETRY_MAX_ATTEMPTS: positiveInt.default(120),
  CONSUMER_RETRY_MAX_DELAY_MS: positiveInt.default(30_000),
});

export type KafkaServiceEnv = z.infer<typeof kafkaServiceEnvSchema>;

/** Consumer settings for MessagingModule's `consumer` option. */
export function consumerDefaultsFrom(env: KafkaServiceEnv): {
  partitionsConsumedConcurrently: number;
  fromBeginning: boolean;
  retry: RetryPolicy;
} {
  return {
    partitionsConsumedConcurrently: env.CONSUMER_CONCURRENCY,
    fromBeginning: env.CONSUMER_START === 'earliest',
    retry: {
      maxAttempts: env.CONSUMER_RETRY_MAX_ATTEMPTS,
      initialDelayMs: 500,
      maxDelayMs: env.CONSUMER_RETRY_MAX_DELAY_MS,
      multiplier: 2,
    },
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
