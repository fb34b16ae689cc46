/**
 * Collects the readiness checks of every module in a service (Kafka, registry, database,
 * consumer groups...). /ready runs them all, each bounded in time, and answers 503 with the
 * failing ones named, so Kubernetes stops routing to a pod that cannot do its work.
 */
import { Injectable } from '@nestjs/common';
import type { ReadinessCheck } from '@ancillary/observability';
import { withTimeout } from '@ancillary/retry';

export interface ReadinessResult {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string }>;
}

@Injectable()
export class ReadinessRegistry {
  private readonly checks: ReadinessCheck[] = [];
  private readonly livenessChecks: ReadinessCheck[] = [];

  add(...checks: ReadinessCheck[]): void {
    this.checks.push(...checks);
  }

  /**
   * Checks of the process itself, for /health: only what a restart would cure (a consumer that
   * gave up for good), never a dependency — an outage of Kafka must not restart every pod.
   */
  addLiveness(...checks: ReadinessCheck[]): void {
    this.livenessChecks.push(...checks);
  }

  run(timeoutMs = 5_000): Promise<ReadinessResult> {
    return runChecks(this.checks, timeoutMs);
  }

  runLiveness(timeoutMs = 2_000): Promise<ReadinessResult> {
    return runChecks(this.livenessChecks, timeoutMs);
  }
}

async function runChecks(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
): Promise<ReadinessResult> {
  const results = await Promise.all(
    checks.map(async (c) => {
      try {
        await withTimeout(
          c.check(),
          timeoutMs,
          () => new Error(`no answer within ${timeoutMs} ms`),
        );
        return [c.name, { ok: true }] as [string, ReadinessResult['checks'][string]];
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return [c.name, { ok: false, error: message }] as [
          string,
          ReadinessResult['checks'][string],
        ];
      }
    }),
  );
  return { ready: results.every(([, r]) => r.ok), checks: Object.fromEntries(results) };
}
