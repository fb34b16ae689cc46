/**
 * The answers of the FHIR inbound endpoint: every one is an OperationOutcome
 * (https://hl7.org/fhir/R4/operationoutcome.html) with an issue code from
 * https://hl7.org/fhir/R4/valueset-issue-type.html, so a pharmacy platform's FHIR client reads
 * our refusals the way it reads any FHIR server's.
 */

export type IssueSeverity = 'fatal' | 'error' | 'warning' | 'information';

export type IssueType =
  | 'invalid'
  | 'structure'
  | 'required'
  | 'value'
  | 'too-long'
  | 'not-supported'
  | 'transient'
  | 'informational';

export interface OperationOutcomeIssue {
  severity: IssueSeverity;
  code: IssueType;
  diagnostics: string;
  /** FHIRPath of the element at fault, e.g. `MedicationDispense.identifier`. */
  expression?: string[];
}

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: OperationOutcomeIssue[];
}

export function operationOutcome(issue: OperationOutcomeIssue): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

/**
 * A request the endpoint refuses, with its HTTP status (https://hl7.org/fhir/R4/http.html#create:
 * 400 for content that cannot be parsed or fails basic checks, 415 for a format the server does
 * not take, 413 for a body over the limit).
 */
export class FhirRequestError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    readonly issue: OperationOutcomeIssue & { severity: 'error' },
    /** Metric label and log field: what kind of problem, never the content. */
    readonly problem: string,
  ) {
    super(issue.diagnostics);
    this.name = 'FhirRequestError';
  }
}
