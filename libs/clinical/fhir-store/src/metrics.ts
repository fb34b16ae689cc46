/** Prometheus metrics of the clinical repository (process-wide registry, created on first use). */
import { counter, histogram } from '@ancillary/observability';

export function storeMetrics() {
  return {
    labWrites: counter(
      'ancillary_fhir_store_lab_writes_total',
      'LabResult events applied to the repository, by outcome and (for UNCHANGED) reason.',
      ['outcome', 'reason'],
    ),
    labWriteFailures: counter(
      'ancillary_fhir_store_lab_write_failures_total',
      'LabResult writes that failed, by error code (retriable or permanent).',
      ['code', 'retriable'],
    ),
    labWriteSeconds: histogram(
      'ancillary_fhir_store_lab_write_seconds',
      'Time to apply one LabResult event, transaction included.',
    ),
    versions: counter(
      'ancillary_fhir_store_versions_total',
      'Resource versions written, by resource type.',
      ['resource_type'],
    ),
    queryFailures: counter(
      'ancillary_fhir_store_query_failures_total',
      'Reads and searches that failed, by operation and error code.',
      ['operation', 'code'],
    ),
  };
}

export type StoreMetrics = ReturnType<typeof storeMetrics>;
