/** Prometheus metrics of the FHIR API (process-wide registry, created on first use). */
import { counter, histogram } from '@ancillary/observability';

export function apiMetrics() {
  return {
    requests: counter(
      'ancillary_fhir_api_requests_total',
      'FHIR API requests answered, by interaction and HTTP status.',
      ['interaction', 'status'],
    ),
    seconds: histogram(
      'ancillary_fhir_api_request_seconds',
      'Time to answer a FHIR API request, by interaction.',
      ['interaction'],
    ),
    refusals: counter(
      'ancillary_fhir_api_refusals_total',
      'Creates and updates refused, by interaction, resource type and the first issue code.',
      ['interaction', 'resource_type', 'code'],
    ),
  };
}

export type ApiMetrics = ReturnType<typeof apiMetrics>;
