/**
 * What the gateway checks of a FHIR resource before it stores it, and how it keys it. The
 * checks are the minimum that lets the record be stored usefully — the body is JSON, it is the
 * resource type of the endpoint, it carries a business identifier (without one a resend could
 * not be recognised downstream). Everything clinical (codes, quantities, the prescription it
 * answers) is the normalizer's to judge, as for HL7: the gateway keeps what it was given.
 */
import { FhirRequestError } from './operation-outcome';

/** Media types a FHIR R4 JSON client sends (https://hl7.org/fhir/R4/http.html#mime-type). */
export const FHIR_JSON_MEDIA_TYPES = ['application/fhir+json', 'application/json'] as const;

export interface FhirIntake {
  /** The body as received, decoded as UTF-8 (FHIR mandates UTF-8). */
  text: string;
  resourceType: string;
  /** `system|value` of the first identifier with a value: a resend has the same one. */
  idempotencyKey: string;
  /** The partition key: the patient (subject/patient identifier value, else reference), else idempotencyKey. */
  key: string;
}

interface Identifier {
  system?: unknown;
  value?: unknown;
}

interface Reference {
  reference?: unknown;
  identifier?: Identifier;
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;

/**
 * Refuses a Content-Type the endpoint does not take (415). FHIR requires UTF-8; a charset
 * parameter naming anything else is refused rather than misread.
 */
export function checkContentType(header: string | undefined): void {
  const [type = '', ...params] = (header ?? '').split(';').map((p) => p.trim().toLowerCase());
  if (!(FHIR_JSON_MEDIA_TYPES as readonly string[]).includes(type)) {
    throw new FhirRequestError(
      415,
      {
        severity: 'error',
        code: 'not-supported',
        diagnostics: `Content-Type ${header ? `'${header}'` : '(none)'} is not supported: send ${FHIR_JSON_MEDIA_TYPES.join(' or ')}`,
      },
      'unsupported-media-type',
    );
  }
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length);
  if (charset !== undefined && charset.replace(/"/g, '') !== 'utf-8') {
    throw new FhirRequestError(
      415,
      {
        severity: 'error',
        code: 'not-supported',
        diagnostics: `charset ${charset} is not supported: FHIR JSON is UTF-8`,
      },
      'unsupported-charset',
    );
  }
}

function invalid(problem: string, diagnostics: string, expression?: string): FhirRequestError {
  return new FhirRequestError(
    400,
    {
      severity: 'error',
      code:
        problem === 'no-identifier' ? 'required' : problem === 'not-json' ? 'structure' : 'invalid',
      diagnostics,
      ...(expression ? { expression: [expression] } : {}),
    },
    problem,
  );
}

/**
 * Reads a posted resource of `expectedType`. Throws FhirRequestError (400) naming the problem;
 * its diagnostics never quote the body (they may be logged by proxies on the way back).
 */
export function readFhirResource(body: Buffer, expectedType: string): FhirIntake {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw invalid('not-utf8', 'the request body is not valid UTF-8');
  }
  if (text.trim().length === 0)
    throw invalid('empty', `the request body is empty: expected a ${expectedType}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text; only the position is passed on.
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    throw invalid(
      'not-json',
      `the request body is not valid JSON${at ? ` (at character ${at})` : ''}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('not-json', `the request body is not a JSON object: expected a ${expectedType}`);
  }
  const resource = parsed as Record<string, unknown>;
  const resourceType = resource['resourceType'];
  if (resourceType !== expectedType) {
    throw invalid(
      'wrong-resource-type',
      nonEmpty(resourceType)
        ? `resourceType is ${resourceType.slice(0, 64)}: this endpoint takes ${expectedType}`
        : `resourceType is missing: this endpoint takes ${expectedType}`,
      'resourceType',
    );
  }
  const identifiers = Array.isArray(resource['identifier'])
    ? (resource['identifier'] as unknown[])
    : [];
  const identifier = identifiers.find(
    (i): i is Identifier =>
      typeof i === 'object' && i !== null && nonEmpty((i as Identifier).value),
  );
  if (!identifier) {
    throw invalid(
      'no-identifier',
      `${expectedType}.identifier with a value is required: it is how a resent ${expectedType} is recognised`,
      `${expectedType}.identifier`,
    );
  }
  const system = nonEmpty(identifier.system) ? identifier.system : '';
  const idempotencyKey = `${system}|${String(identifier.value)}`;
  return { text, resourceType, idempotencyKey, key: patientKey(resource) ?? idempotencyKey };
}

/** The patient the resource is about: `subject` (MedicationDispense, …) or `patient`. */
function patientKey(resource: Record<string, unknown>): string | undefined {
  for (const element of ['subject', 'patient']) {
    const ref = resource[element];
    if (typeof ref !== 'object' || ref === null) continue;
    const { identifier, reference } = ref as Reference;
    if (identifier && nonEmpty(identifier.value)) return identifier.value;
    if (nonEmpty(reference)) return reference;
  }
  return undefined;
}
