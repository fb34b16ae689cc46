/**
 * Prometheus metrics for /metrics. One registry per process, shared by every library in it,
 * so that messaging, MLLP and HTTP metrics appear side by side. Metric names follow
 * Prometheus conventions (`ancillary_<area>_<what>_<unit>`).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

let registry: Registry | undefined;

/** The process-wide registry, with Node's default metrics (event loop lag, heap, GC). */
export function metricsRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  return registry;
}

/** Returns the metric registered under `name`, creating it on first use (idempotent across modules). */
function getOrCreate<T>(name: string, create: (reg: Registry) => T, reg: Registry): T {
  const existing = reg.getSingleMetric(name);
  return (existing as T | undefined) ?? create(reg);
}

export function counter<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  reg: Registry = metricsRegistry(),
): Counter<L> {
  return getOrCreate(name, (r) => new Counter({ name, help, labelNames, registers: [r] }), reg);
}

export function gauge<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  reg: Registry = metricsRegistry(),
): Gauge<L> {
  return getOrCreate(name, (r) => new Gauge({ name, help, labelNames, registers: [r] }), reg);
}

/** Latency buckets in seconds, from 1 ms to 60 s: MLLP ACKs are milliseconds, order-to-result is minutes. */
export const LATENCY_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

export function histogram<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets: number[] = LATENCY_BUCKETS_SECONDS,
  reg: Registry = metricsRegistry(),
): Histogram<L> {
  return getOrCreate(
    name,
    (r) => new Histogram({ name, help, labelNames, buckets, registers: [r] }),
    reg,
  );
}
