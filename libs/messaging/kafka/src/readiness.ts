/**
 * Readiness checks for /ready: a service is ready when the dependencies it cannot work
 * without answer. Each check is bounded in time so that /ready itself never hangs.
 */
import type { ReadinessCheck } from '@ancillary/observability';
import type { Kafka } from 'kafkajs';

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`${what} did not answer within ${ms} ms`));
      }, ms);
    }),
  ]).finally(() => {
    clearTimeout(timer);
  });
}

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
          'Kafka',
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
