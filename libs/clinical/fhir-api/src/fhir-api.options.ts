import type { FhirStore, OrderRouter } from '@ancillary/fhir-store';
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
  /**
   * Orders: with a router, POST ServiceRequest / MedicationRequest places orders (routed, stored
   * with their outbox event) and PUT cancels them; without, those answer 405.
   */
  orders?: { router: OrderRouter };
  /**
   * Largest create or update body, bytes; larger ones are answered 413. Default 1 MiB. Applies
   * when the application's own body parser is off (`bodyParser: false`, as ehr-writer starts).
   */
  maxBodyBytes?: number;
}

export const FHIR_API_OPTIONS = Symbol('ancillary.fhir-api.options');
