/**
 * Errors of the clinical repository, classified the way the consumer runner needs them: a
 * database that is down, busy or lost a race is retriable (the same write will succeed later);
 * a result the repository cannot hold as it is (no patient identifier, a value PostgreSQL
 * refuses) is permanent and goes to the dead-letter topic with this reason.
 */
import { PermanentError, type PlatformError, RetriableError } from '@ancillary/messaging-kafka';

/** PostgreSQL could not be reached, dropped the connection, ran out of resources or timed out. */
export class RepositoryUnavailableError extends RetriableError {
  override readonly code = 'REPOSITORY_UNAVAILABLE';
}

/**
 * Two writers met on the same rows (serialization failure, deadlock, a unique index or a
 * version check that a concurrent commit won). Running the write again resolves it.
 */
export class RepositoryConflictError extends RetriableError {
  override readonly code = 'REPOSITORY_CONFLICT';
}

/**
 * Anything else that went wrong inside a repository call (a defect, a schema out of step with
 * the code). Retried within the consumer's budget, then dead-lettered with this message.
 */
export class RepositoryInternalError extends RetriableError {
  override readonly code = 'REPOSITORY_INTERNAL';
}

/** The LabResult cannot be written as it is; the reason names the field. */
export class InvalidLabResultError extends PermanentError {
  override readonly code = 'INVALID_LAB_RESULT';
}

/**
 * An ImagingReport, MedicationDispensed or OrderStatusChanged that cannot be written as it is
 * (no patient identifier, no procedure code, a timestamp out of range); the reason names the field.
 */
export class InvalidClinicalEventError extends PermanentError {
  override readonly code = 'INVALID_CLINICAL_EVENT';
}

/**
 * An order status names an order the repository does not have (no ServiceRequest or
 * MedicationRequest with that placer number, nor with that id): nothing to apply it to, and a
 * retry will not create one, so it goes to the dead-letter topic with this reason.
 */
export class UnknownOrderError extends PermanentError {
  override readonly code = 'UNKNOWN_ORDER';
}

/**
 * The identifiers of one PID-3 belong to two different patients in the repository. Filing the
 * result under either could put it in the wrong chart, so it waits for a person (dead letter).
 */
export class PatientIdentityConflictError extends PermanentError {
  override readonly code = 'PATIENT_IDENTITY_CONFLICT';
}

/** PostgreSQL refused the data itself (invalid text, out-of-range value, too large). */
export class RepositoryDataError extends PermanentError {
  override readonly code = 'REPOSITORY_DATA_ERROR';
}

/** A resource handed to save() that the repository does not accept. */
export class InvalidResourceError extends PermanentError {
  override readonly code = 'INVALID_RESOURCE';
}

/** A resource type this repository does not hold. */
export class UnsupportedResourceTypeError extends PermanentError {
  override readonly code = 'UNSUPPORTED_RESOURCE_TYPE';
  constructor(readonly resourceType: string) {
    super(`resource type '${resourceType}' is not supported by this repository`);
  }
}

/** One problem with a search request, named after the parameter it concerns. */
export interface SearchIssue {
  parameter: string;
  message: string;
}

/** A search request that names an unknown parameter or carries a malformed value. */
export class InvalidSearchError extends PermanentError {
  override readonly code = 'INVALID_SEARCH';
  constructor(readonly issues: SearchIssue[]) {
    super(issues.map((i) => `${i.parameter}: ${i.message}`).join('; '));
  }
}

/** SQLSTATE classes and codes that a later attempt can get past. */
const RETRIABLE_SQLSTATE_CLASSES = ['08', '53', '57', '58'];
const CONFLICT_SQLSTATES = new Set(['40001', '40P01', '23505', '55P03']);
/** Data the database refuses as it is: a retry gives the same answer. */
const PERMANENT_SQLSTATE_CLASSES = ['22', '54'];

/** Socket-level failures node-postgres reports without a SQLSTATE. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** How node-postgres words transport failures that carry no code. */
const CONNECTION_FAILURE = /connect|terminat|timeout|timed out|closed|socket|ended/i;

function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/**
 * Maps anything a PostgreSQL call threw to a repository error that says whether to retry.
 * Unknown failures (our own SQL or schema out of step with the code) are retriable: the
 * consumer's bounded budget still dead-letters them in the end, while a deployment mistake does
 * not dead-letter the whole stream at once.
 */
export function classifyDatabaseError(error: unknown, doing: string): PlatformError {
  if (error instanceof RetriableError || error instanceof PermanentError) return error;
  const code = sqlState(error);
  const message = error instanceof Error ? error.message : String(error);
  const text = `${doing}: ${message}${code ? ` (SQLSTATE ${code})` : ''}`;
  if (code && CONFLICT_SQLSTATES.has(code)) {
    return new RepositoryConflictError(text, { cause: error });
  }
  if (code && NETWORK_ERROR_CODES.has(code)) {
    return new RepositoryUnavailableError(text, { cause: error });
  }
  if (code && code.length === 5) {
    const sqlClass = code.slice(0, 2);
    if (PERMANENT_SQLSTATE_CLASSES.includes(sqlClass)) {
      return new RepositoryDataError(text, { cause: error });
    }
    if (RETRIABLE_SQLSTATE_CLASSES.includes(sqlClass)) {
      return new RepositoryUnavailableError(text, { cause: error });
    }
  }
  if (code === undefined && CONNECTION_FAILURE.test(message)) {
    // Pool checkout timeouts, "Connection terminated unexpectedly", a client already closed.
    return new RepositoryUnavailableError(text, { cause: error });
  }
  return new RepositoryInternalError(text, { cause: error });
}
