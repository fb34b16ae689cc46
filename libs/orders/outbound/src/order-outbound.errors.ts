/**
 * How a failed order send ends for its Kafka record (see @ancillary/messaging-kafka errors):
 * permanent ones go to `<order topic>.dlt` at once, after the EHR has been told (REJECTED);
 * the retriable one keeps the record — and the patient's later orders behind it — waiting and
 * resent with backoff until the ancillary answers.
 */
import { PermanentError, RetriableError } from '@ancillary/messaging-kafka';

/** The ancillary refused the order for good (AR / CR, or HTTP 4xx). The message is its reason. */
export class OrderRejectedError extends PermanentError {
  override readonly code = 'order-rejected';

  constructor(
    readonly destination: string,
    /** MSA-1, or the HTTP status for a FHIR receiver. */
    readonly ackCode: string | null,
    /** The ancillary's words (ERR / MSA-3 text, OperationOutcome); null when it gave none. */
    readonly reason: string | null,
  ) {
    super(
      `${destination} rejected the order${ackCode ? ` (${ackCode})` : ''}: ${reason ?? 'no reason given'}`,
    );
  }
}

/**
 * The order cannot be expressed for this ancillary: its code is not in the facility's tables,
 * or the configured message cannot carry it. Fixing the tables and replaying the dead letter
 * sends it.
 */
export class OrderUnmappableError extends PermanentError {
  override readonly code = 'order-unmappable';
}

/** No usable answer yet: connection refused or dropped, ACK timeout, AE, HTTP 5xx/408/429. */
export class AncillaryUnavailableError extends RetriableError {
  override readonly code = 'ancillary-unavailable';
}
