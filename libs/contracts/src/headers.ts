/**
 * Kafka header names carried from the first receipt to the last write (ARCHITECTURE.md,
 * "Headers"). One place spells them so that every service reads the same ones.
 */
export const MessageHeaders = {
  /** W3C trace context, https://www.w3.org/TR/trace-context/ */
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  correlationId: 'x-correlation-id',
  /** HL7 MSH-10 of the message this record descends from. */
  messageControlId: 'x-hl7-message-control-id',
  /** The configured name of the ancillary connection that sent the original message. */
  sourceSystem: 'x-source-system',
  /** The service that produced this record. */
  producer: 'x-producer',
} as const;

/** Provenance headers added to a record when it is sent to a dead-letter topic. */
export const DeadLetterHeaders = {
  originalTopic: 'x-dlt-original-topic',
  originalPartition: 'x-dlt-original-partition',
  originalOffset: 'x-dlt-original-offset',
  originalTimestamp: 'x-dlt-original-timestamp',
  errorClass: 'x-dlt-error-class',
  errorMessage: 'x-dlt-error-message',
  errorCode: 'x-dlt-error-code',
  attempts: 'x-dlt-attempts',
  service: 'x-dlt-service',
  failedAt: 'x-dlt-failed-at',
} as const;

/**
 * Headers a replay adds to the record it republishes. A replayed record that fails again is
 * dead-lettered with them (the publisher keeps every header), so a dead letter shows how many
 * times it has been replayed and from where.
 */
export const ReplayHeaders = {
  /** `<dead-letter topic>/<partition>/<offset>` of the dead letter this record was replayed from. */
  replayedFrom: 'x-replayed-from',
  /** How many times this message has been replayed from a dead-letter topic (1 the first time). */
  replayCount: 'x-replay-count',
} as const;
