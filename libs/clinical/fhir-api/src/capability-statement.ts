/**
 * The CapabilityStatement (`GET /fhir/metadata`), built from the same search parameter table
 * the repository indexes and the parser accepts, so it lists exactly what works.
 * https://hl7.org/fhir/R4/capabilitystatement.html
 */
import { FHIR_RESOURCE_TYPES, SEARCH_PARAMETERS } from '@ancillary/fhir-store';

/** What this deployment lets clients write. */
export interface WriteCapabilities {
  /** POST ServiceRequest / MedicationRequest and PUT (cancellation) of them. */
  orders: boolean;
}

export interface CapabilityStatement {
  resourceType: 'CapabilityStatement';
  status: 'active';
  date: string;
  publisher: string;
  kind: 'instance';
  software: { name: string };
  implementation: { description: string; url: string };
  fhirVersion: '4.0.1';
  format: string[];
  rest: {
    mode: 'server';
    documentation: string;
    resource: {
      type: string;
      versioning: 'versioned';
      readHistory: true;
      updateCreate: false;
      conditionalCreate: boolean;
      interaction: { code: string }[];
      searchInclude: string[];
      searchRevInclude: string[];
      searchParam: { name: string; type: string; documentation: string }[];
    }[];
  }[];
}

const COMMON_PARAMETERS = [
  { name: '_id', type: 'token', documentation: 'Logical id of the resource' },
  { name: '_lastUpdated', type: 'date', documentation: 'When the current version was written' },
];

/** The write interactions of a resource type: create (Patient, orders), update (orders). */
function writeInteractions(type: string, writes: WriteCapabilities): string[] {
  if (type === 'Patient') return ['create'];
  if (writes.orders && (type === 'ServiceRequest' || type === 'MedicationRequest')) {
    return ['create', 'update'];
  }
  return [];
}

export function capabilityStatement(
  baseUrl: string,
  published: Date,
  writes: WriteCapabilities = { orders: false },
): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: published.toISOString(),
    publisher: 'ancillary-hub',
    kind: 'instance',
    software: { name: 'ancillary-hub clinical repository' },
    implementation: {
      description:
        'FHIR R4 API of the clinical repository: results to read and search, patients and orders to create',
      url: baseUrl,
    },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json', 'json'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Search: token (code, system|code, |code, system|), reference (Type/id or id), ' +
          'date (eq, ne, lt, le, gt, ge; partial dates), chains to token parameters, _include, ' +
          '_revinclude, _count (default 20, max 200), _offset, _sort, _total. Unknown parameters are refused. ' +
          'Create: Patient, ServiceRequest, MedicationRequest, validated (OperationOutcome 400/422 naming ' +
          'each element), conditional with If-None-Exist: identifier=<system>|<value>. Update: ' +
          'ServiceRequest and MedicationRequest, to cancel them (status revoked / cancelled), If-Match optional.',
        resource: FHIR_RESOURCE_TYPES.map((type) => ({
          type,
          versioning: 'versioned',
          readHistory: true,
          updateCreate: false,
          conditionalCreate: writeInteractions(type, writes).includes('create'),
          interaction: [
            { code: 'read' },
            { code: 'vread' },
            { code: 'history-instance' },
            { code: 'search-type' },
            ...writeInteractions(type, writes).map((code) => ({ code })),
          ],
          searchInclude: SEARCH_PARAMETERS[type]
            .filter((p) => p.type === 'reference')
            .map((p) => `${type}:${p.name}`),
          searchRevInclude: FHIR_RESOURCE_TYPES.flatMap((source) =>
            SEARCH_PARAMETERS[source]
              .filter((p) => p.type === 'reference' && (p.targets ?? []).includes(type))
              .map((p) => `${source}:${p.name}`),
          ),
          searchParam: [
            ...COMMON_PARAMETERS,
            ...SEARCH_PARAMETERS[type].map((p) => ({
              name: p.name,
              type: p.type,
              documentation: p.documentation,
            })),
          ],
        })),
      },
    ],
  };
}
