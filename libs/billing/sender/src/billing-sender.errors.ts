/**
 * How a failed charge send ends for its Kafka record (see @ancillary/messaging-kafka errors):
 * the permanent ones go to `billing.charges.v1.dlt` at once, their message in
 * `x-dlt-error-message`; the retriable ones keep the record — and the patient's later charges
 * behind it — in Kafka, resent with backoff until the engine answers.
 */
import { PermanentError, RetriableError } from '@ancillary/messaging-kafka';

/**
 * The billing engine refused the charge for good (AR, or CE / CR per configuration). The
 * message carries the engine's own words (ERR-8, else MSA-3, else the ERR-3 code text), which
 * is what a biller reads in the dead letter to fix the charge master or the registration.
 */
export class ChargeRejectedError extends PermanentError {
  override readonly code = 'charge-rejected';

  constructor(
    readonly transactionId: string,
    /** MSA-1 as answered. */
    readonly ackCode: string,
    /** The engine's ERR text; null when it gave none. */
    readonly reason: string | null,
  ) {
    super(
      `billing engine rejected transaction ${transactionId} (${ackCode}): ${reason ?? 'no reason given'}`,
    );
  }
}

/**
 * The charge cannot be sent as it is: no valid DFT^P03 can be built from it (DftBuildError),
 * the message cannot be framed, or its transaction id was already sent for another event (a
 * hash collision of transactionIdFor, which must surface rather than be skipped as a replay).
 */
export class ChargeUnsendableError extends PermanentError {
  override readonly code = 'charge-unsendable';
}

/** No usable answer yet: connection refused or dropped, ACK timeout, AE (or another code). */
export class BillingEngineUnavailableError extends RetriableError {
  override readonly code = 'billing-engine-unavailable';
}

/** billing.sent_transactions could not be read or written: the database is unavailable. */
export class SentTransactionsUnavailableError extends RetriableError {
  override readonly code = 'sent-transactions-unavailable';
}
