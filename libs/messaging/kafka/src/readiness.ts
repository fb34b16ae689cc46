/**
 * Readiness checks for /ready: a service is ready when the dependencies it cannot work
 * without answer. Each check is bounded in time so that /ready itself never hangs.
 */
import type { ReadinessCheck } from '@ancillary/observability';
import { withTimeout } from '@ancillary/retry';
import type { Kafka } from 'kafkajs';

export function brokerReadiness(kafka: Kafka, timeoutMs = 3_000): ReadinessCheck {
  return {
    name: 'kafka',
    async check() {
      const admin = kafka.admin();
      try {
        await withTimeout(
          (async () => {
            await admin.connect();
            await admin.describeCluster();
          })(),
          timeoutMs,
          () => new Error(`Kafka did not answer within ${timeoutMs} ms`),
        );
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
  };
}

export function registryReadiness(registryUrl: string, timeoutMs = 3_000): ReadinessCheck {
  return {
    name: 'schema-registry',
    async check() {
      const response = await fetch(`${registryUrl.replace(/\/+$/, '')}/subjects`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) throw new Error(`schema registry answered HTTP ${response.status}`);
    },
  };
}
