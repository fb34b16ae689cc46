/** Prometheus metrics of the order writes (process-wide registry, created on first use). */
import { counter } from '@ancillary/observability';

export function orderMetrics() {
  return {
    writes: counter(
      'ancillary_fhir_store_order_writes_total',
      'Creates and updates from the FHIR API, by resource type and outcome (CREATED, EXISTING, UPDATED, UNCHANGED, REFUSED).',
      ['resource_type', 'outcome'],
    ),
    events: counter(
      'ancillary_fhir_store_outbox_events_total',
      'Order events written to the outbox, by action, category and lane.',
      ['action', 'category', 'lane'],
    ),
  };
}

export type OrderMetrics = ReturnType<typeof orderMetrics>;
