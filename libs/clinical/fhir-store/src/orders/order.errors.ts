/**
 * Why the repository refused a create or an update from the FHIR API. Each says what the API
 * answers (https://hl7.org/fhir/R4/http.html): the caller changes the request, so all are
 * permanent. Messages name elements and codes, never patient data: they are logged.
 */
import { PermanentError } from '@ancillary/messaging-kafka';
import { type ValidationIssue, validationStatus } from './order.validation';

/** The resource is malformed (400) or breaks a rule (422); `issues` say where and why. */
export class ResourceValidationError extends PermanentError {
  override readonly code = 'RESOURCE_INVALID';
  readonly status: 400 | 422;

  constructor(
    readonly resourceType: string,
    readonly issues: readonly ValidationIssue[],
    options?: { cause?: unknown; status?: 400 | 422 },
  ) {
    super(
      `${resourceType} refused: ${issues.map((i) => `${i.expression} (${i.code})`).join('; ')}`,
      options,
    );
    this.status = options?.status ?? validationStatus(issues);
  }
}

/** A conditional create's criteria match several resources (412 Precondition Failed). */
export class MultipleMatchesError extends PermanentError {
  override readonly code = 'MULTIPLE_MATCHES';
  constructor(
    readonly resourceType: string,
    readonly matches: number,
  ) {
    super(`the If-None-Exist criteria match ${matches} ${resourceType} resources`);
  }
}

/** If-Match named another version than the current one (412 Precondition Failed). */
export class VersionConflictError extends PermanentError {
  override readonly code = 'VERSION_CONFLICT';
  constructor(
    readonly resourceType: string,
    readonly id: string,
    readonly expected: number,
    readonly current: number,
  ) {
    super(
      `${resourceType}/${id} is at version ${current}, not ${expected} (If-Match): read it again and retry`,
    );
  }
}

/** An update of a resource that does not exist; this server does not create by update. */
export class UnknownResourceError extends PermanentError {
  override readonly code = 'RESOURCE_NOT_FOUND';
  constructor(
    readonly resourceType: string,
    readonly id: string,
  ) {
    super(`${resourceType}/${id} is not known`);
  }
}
