/**
 * FHIR-facing errors: every failure the API answers is an OperationOutcome with the HTTP status
 * the FHIR RESTful API specifies (https://hl7.org/fhir/R4/http.html) and an issue code from
 * https://hl7.org/fhir/R4/valueset-issue-type.html, after medplum's core/src/outcomes.ts.
 */
import {
  InvalidSearchError,
  MultipleMatchesError,
  RepositoryConflictError,
  RepositoryUnavailableError,
  ResourceValidationError,
  UnknownResourceError,
  UnsupportedResourceTypeError,
  VersionConflictError,
} from '@ancillary/fhir-store';
import { PlatformError } from '@ancillary/messaging-kafka';

export type IssueSeverity = 'fatal' | 'error' | 'warning' | 'information';

export type IssueType =
  | 'invalid'
  | 'structure'
  | 'required'
  | 'value'
  | 'code-invalid'
  | 'business-rule'
  | 'duplicate'
  | 'multiple-matches'
  | 'too-long'
  | 'not-found'
  | 'not-supported'
  | 'processing'
  | 'transient'
  | 'exception'
  | 'conflict'
  | 'informational';

export interface OperationOutcomeIssue {
  severity: IssueSeverity;
  code: IssueType;
  diagnostics: string;
  expression?: string[];
}

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: OperationOutcomeIssue[];
}

/** An error the API answers as an OperationOutcome with this status. */
export class FhirHttpError extends Error {
  constructor(
    readonly status: number,
    readonly issues: OperationOutcomeIssue[],
    readonly headers: Record<string, string> = {},
  ) {
    super(issues.map((i) => i.diagnostics).join('; '));
    this.name = 'FhirHttpError';
  }

  static of(status: number, code: IssueType, diagnostics: string): FhirHttpError {
    return new FhirHttpError(status, [{ severity: 'error', code, diagnostics }]);
  }
}

export function operationOutcome(issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues };
}

/** Seconds a client should wait before retrying after a 503 (the repository was unreachable). */
export const RETRY_AFTER_SECONDS = 5;

/** The HTTP answer for anything a handler threw. */
export function toHttpError(error: unknown): FhirHttpError {
  if (error instanceof FhirHttpError) return error;
  if (error instanceof InvalidSearchError) {
    return new FhirHttpError(
      400,
      error.issues.map((i) => ({
        severity: 'error',
        code: i.message.startsWith('unknown search parameter') ? 'not-supported' : 'invalid',
        diagnostics: `${i.parameter}: ${i.message}`,
        expression: [i.parameter],
      })),
    );
  }
  if (error instanceof ResourceValidationError) {
    return new FhirHttpError(
      error.status,
      error.issues.map((i) => ({
        severity: 'error',
        code: i.code,
        diagnostics: i.diagnostics,
        expression: [i.expression],
      })),
    );
  }
  if (error instanceof MultipleMatchesError) {
    return FhirHttpError.of(412, 'multiple-matches', error.message);
  }
  if (error instanceof VersionConflictError) {
    return FhirHttpError.of(412, 'conflict', error.message);
  }
  if (error instanceof UnknownResourceError) {
    // https://hl7.org/fhir/R4/http.html#update: no update-as-create, so 405.
    return FhirHttpError.of(
      405,
      'not-found',
      `${error.resourceType}/${error.id} is not known and this server does not create by update: POST it`,
    );
  }
  if (error instanceof UnsupportedResourceTypeError) {
    return FhirHttpError.of(
      404,
      'not-supported',
      `resource type '${error.resourceType}' is not supported by this server`,
    );
  }
  if (error instanceof RepositoryUnavailableError || error instanceof RepositoryConflictError) {
    return new FhirHttpError(
      503,
      [
        {
          severity: 'error',
          code: 'transient',
          diagnostics: 'the clinical repository is temporarily unavailable; try again shortly',
        },
      ],
      { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    );
  }
  const detail = error instanceof PlatformError ? ` (${error.code})` : '';
  return new FhirHttpError(500, [
    {
      severity: 'fatal',
      code: 'exception',
      // The cause is logged server-side; clients get no internals.
      diagnostics: `the server could not answer this request${detail}`,
    },
  ]);
}
