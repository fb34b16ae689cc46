import type { FhirStore } from '@ancillary/fhir-store';
import type { Logger } from '@ancillary/observability';

export interface FhirApiModuleOptions {
  store: FhirStore;
  /**
   * The public base URL of the FHIR endpoint (e.g. `https://ehr.example.org/fhir`), used in
   * fullUrl and paging links. Without it the base is taken from each request (scheme, Host
   * header and the path up to `/fhir`), which is right unless a proxy rewrites them.
   */
  baseUrl?: string;
  /** Defaults to the service logger of ObservabilityModule when present. */
  logger?: Logger;
  /** Page size when a search gives no _count. Default 20. */
  defaultPageSize?: number;
  /** Largest page a search may ask for; larger _count values are lowered to it. Default 200. */
  maxPageSize?: number;
}

export const FHIR_API_OPTIONS = Symbol('ancillary.fhir-api.options');
