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
  };
}

export type ApiMetrics = ReturnType<typeof apiMetrics>;
