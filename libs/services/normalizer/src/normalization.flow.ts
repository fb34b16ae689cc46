/**
 * What the normalizer's flows (lab, radiology, pharmacy) share: decoding an envelope the way
 * its gateway did, turning every content problem into one permanent error that dead-letters
 * the record (counted and logged the same way on every flow), publishing keyed by patient, and
 * the order-status messages every ancillary may send.
 *
 * Everything that can never succeed as it is — bytes that do not parse, a message type the
 * flow does not map, an unmapped code, an invalid value — is a PermanentError: the record goes
 * to `<inbound topic>.dlt` with the reason and the offset moves on. Anything else (broker,
 * registry) is retried with backoff and never skipped.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  payloadDigest,
  Topics,
  type OrderStatusChanged,
  type RawHl7Envelope,
  type TopicDefinition,
} from '@ancillary/contracts';
import { Hl7Message, Hl7ParseError, type FallbackCharset } from '@ancillary/hl7-core';
import { NormalizationError, type Hl7MessageSource } from '@ancillary/lab-normalization';
import { type ConsumedMessage, MessageProducer, PermanentError } from '@ancillary/messaging-kafka';
import { counter, type Counter, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import {
  isStatusMessageType,
  orderStatusFromMessage,
  STATUS_MESSAGE_TYPES,
} from '@ancillary/order-normalization';
import { TerminologyStore, type Terminology } from '@ancillary/terminology';

export const NORMALIZER_SETTINGS = Symbol('ancillary.normalizer.settings');

export interface NormalizerSettings {
  /** IANA zone for HL7 timestamps sent without an offset (the hospital's local time). */
  defaultTimeZone: string;
  /** The terminology facility whose formulary maps NDCs of FHIR dispenses (FHIR has no MSH-4). */
  pharmacyFhirFacility: string;
}

/** A mapping failure, with a stable code for the dead-letter header and metrics. */
export class MappingError extends PermanentError {
  override readonly code: string;
  constructor(code: string, message: string, cause: unknown) {
    super(message, { cause });
    this.code = code;
  }
}

/** What a failure log line says about the record (ids and codes: never patient data). */
export interface RecordRef {
  readonly sourceSystem: string;
  readonly envelopeId: string;
  readonly messageControlId?: string | null;
  readonly idempotencyKey?: string;
}

/**
 * The envelope names the charset the gateway decoded with, as an IANA name (ISO-8859-1, UTF-8,
 * windows-1252); the parser's fallback option uses its own names. Decoding with the same charset
 * the gateway used is what makes the normalizer read the bytes the gateway accepted.
 */
const FALLBACK_BY_IANA_NAME = new Map<string, FallbackCharset>([
  ['iso-8859-1', 'latin1'],
  ['latin1', 'latin1'],
  ['windows-1252', 'windows-1252'],
  ['cp1252', 'windows-1252'],
  ['utf-8', 'utf-8'],
  ['utf8', 'utf-8'],
]);

/** The parser's fallback for the charset an envelope names (case-insensitive), if it has one. */
export function fallbackCharsetOf(ianaName: string): FallbackCharset | undefined {
  return FALLBACK_BY_IANA_NAME.get(ianaName.toLowerCase());
}

const orderStatuses = counter(
  'normalizer_order_statuses_total',
  'OrderStatusChanged events produced from ancillary status messages, by flow and status.',
  ['flow', 'status'],
);

/** The collaborators every flow uses, injected once. */
@Injectable()
export class NormalizerContext {
  constructor(
    readonly terminology: TerminologyStore,
    readonly producer: MessageProducer,
    @Inject(NORMALIZER_SETTINGS) readonly settings: NormalizerSettings,
    @Inject(LOGGER) readonly logger: Logger,
  ) {}
}

/**
 * Each flow's failure counter, named in full so a search for the metric (and the alert rules'
 * check in tools/deploy) finds where it is registered.
 */
const FAILURE_METRICS = {
  lab: 'normalizer_lab_failures_total',
  radiology: 'normalizer_radiology_failures_total',
  pharmacy: 'normalizer_pharmacy_failures_total',
} as const;

/** Base of the flow handlers: `flow` names the metrics and the log lines. */
export abstract class NormalizationFlow {
  private readonly failures: Counter<'code'>;

  protected constructor(
    protected readonly flow: 'lab' | 'radiology' | 'pharmacy',
    protected readonly context: NormalizerContext,
  ) {
    this.failures = counter(
      FAILURE_METRICS[flow],
      `${flow} messages that could not be mapped (dead-lettered), by reason code.`,
      ['code'],
    );
  }

  /**
   * Routes an HL7 envelope: the ancillary's status messages to {@link publishOrderStatus},
   * `messageType` (the flow's own: ORU^R01, RDS^O13) parsed to `handle` with one version of the
   * tables for the whole message (a reload may swap them meanwhile), anything else refused.
   */
  protected async routeHl7(
    envelope: RawHl7Envelope,
    record: ConsumedMessage<RawHl7Envelope>,
    messageType: string,
    handle: (message: Hl7Message, terminology: Terminology) => Promise<void>,
  ): Promise<void> {
    if (isStatusMessageType(envelope.messageType)) {
      await this.publishOrderStatus(envelope, record);
      return;
    }
    if (envelope.messageType !== messageType) {
      this.fail(
        'unsupported-message-type',
        `message type ${envelope.messageType} is not mapped by the ${this.flow} normalizer (it maps ${[messageType, ...STATUS_MESSAGE_TYPES].join(', ')})`,
        envelope,
      );
    }
    await handle(this.parse(envelope), this.context.terminology.current);
  }

  /** The mappers' options: the zone of HL7 times sent without an offset. */
  protected get mapOptions(): { defaultTimeZone: string } {
    return { defaultTimeZone: this.context.settings.defaultTimeZone };
  }

  /** Counts, logs and throws the permanent error that dead-letters the record. */
  protected fail(code: string, message: string, record: RecordRef, cause?: unknown): never {
    this.failures.inc({ code });
    this.context.logger.warn(
      { flow: this.flow, code, reason: message, ...record },
      `${this.flow} message not mapped; dead-lettering`,
    );
    throw new MappingError(code, message, cause);
  }

  /** Runs a mapper: its NormalizationError (bad content) becomes a dead letter with its code. */
  protected mapped<T>(record: RecordRef, map: () => T): T {
    try {
      return map();
    } catch (error) {
      if (error instanceof NormalizationError)
        return this.fail(error.code, error.message, record, error);
      throw error;
    }
  }

  /** The envelope's bytes as an HL7 message, decoded with the charset the gateway used. */
  protected parse(envelope: RawHl7Envelope): Hl7Message {
    const fallbackCharset = fallbackCharsetOf(envelope.charset);
    try {
      return Hl7Message.parse(envelope.payload, {
        ...(fallbackCharset ? { fallbackCharset } : {}),
      });
    } catch (error) {
      if (error instanceof Hl7ParseError)
        return this.fail('unparseable', error.message, envelope, error);
      throw error;
    }
  }

  /** The mappers' view of the envelope (the digest makes a reused MSH-10 a new event). */
  protected sourceOf(envelope: RawHl7Envelope): Hl7MessageSource {
    return {
      sourceSystem: envelope.sourceSystem,
      envelopeId: envelope.envelopeId,
      receivedAt: envelope.receivedAt,
      payloadDigest: payloadDigest(envelope.payload),
    };
  }

  /** Publishes events keyed by patient, with the consumed record's trace and correlation. */
  protected async publish<T>(
    topic: TopicDefinition,
    values: readonly T[],
    keyOf: (value: T) => string,
    record: ConsumedMessage<unknown>,
  ): Promise<void> {
    if (values.length === 0) return;
    await this.context.producer.publishBatch<T>(
      topic,
      values.map((value) => ({ key: keyOf(value), value, context: record.context })),
    );
  }

  /**
   * An ancillary's status message (ORM/OML with ORC-1 SC, ORR/ORL/RRE answers) → one
   * OrderStatusChanged per order on `clinical.order-status.v1`, keyed by patient.
   */
  protected async publishOrderStatus(
    envelope: RawHl7Envelope,
    record: ConsumedMessage<RawHl7Envelope>,
  ): Promise<void> {
    const message = this.parse(envelope);
    const statuses = this.mapped(envelope, () =>
      orderStatusFromMessage(message, this.sourceOf(envelope), this.mapOptions),
    );
    await this.publish<OrderStatusChanged>(
      Topics.clinicalOrderStatus,
      statuses,
      (s) => s.patientIdentifier,
      record,
    );
    for (const s of statuses) orderStatuses.inc({ flow: this.flow, status: s.status });
  }
}
