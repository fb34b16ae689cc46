/**
 * Typed errors that say whether to retry (after kafkajs' KafkaJSError.retriable).
 * Permanent errors go to the dead-letter topic at once; retriable ones are retried with
 * backoff and go to the dead-letter topic only when the retry budget is spent.
 */
export abstract class PlatformError extends Error {
  abstract readonly retriable: boolean;
  /** A short stable code for metrics and dead-letter headers, e.g. SCHEMA_VIOLATION. */
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input that will never succeed as it is: bad bytes, unmapped codes, schema violations. */
export class PermanentError extends PlatformError {
  readonly retriable = false;
  readonly code: string = 'PERMANENT';
}

/** A dependency that may come back: broker, registry or database unavailable, timeouts. */
export class RetriableError extends PlatformError {
  readonly retriable = true;
  readonly code: string = 'RETRIABLE';
}

/** A record that does not match its Avro contract, or bytes that are not Confluent-framed Avro. */
export class SchemaViolationError extends PermanentError {
  override readonly code = 'SCHEMA_VIOLATION';
}

/** The schema this code was built with is not registered under the topic's subject. */
export class SchemaNotRegisteredError extends PermanentError {
  override readonly code = 'SCHEMA_NOT_REGISTERED';
}

/** The registry refused a schema because it breaks the subject's compatibility rule. */
export class SchemaCompatibilityError extends PermanentError {
  override readonly code = 'SCHEMA_INCOMPATIBLE';
}

/** The schema registry could not be reached or answered with a server error. */
export class RegistryUnavailableError extends RetriableError {
  override readonly code = 'REGISTRY_UNAVAILABLE';
}

/** Kafka did not durably accept a record (acks=all) in time. */
export class PublishError extends RetriableError {
  override readonly code = 'PUBLISH_FAILED';
}

/** A record could not be written to its dead-letter topic; its offset must not be committed. */
export class DeadLetterPublishError extends RetriableError {
  override readonly code = 'DEAD_LETTER_PUBLISH_FAILED';
}

/**
 * Whether an error is worth retrying. Platform errors say so themselves; kafkajs errors
 * carry `retriable`; anything else (a bug, an unexpected exception) is retried within the
 * bounded budget, because giving up at once would dead-letter messages on a passing fault.
 */
export function isRetriable(error: unknown): boolean {
  if (error instanceof PlatformError) return error.retriable;
  if (typeof error === 'object' && error !== null && 'retriable' in error) {
    return error.retriable !== false;
  }
  return true;
}

export function errorCode(error: unknown): string {
  if (error instanceof PlatformError) return error.code;
  if (error instanceof Error) return error.name;
  return 'UNKNOWN';
}
