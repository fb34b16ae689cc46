/**
 * The normalizer's lab flow: a raw envelope from `lab.hl7-inbound.v1` becomes one canonical
 * LabResult per order group on `clinical.results.v1` (keyed by patient, so one patient's results
 * stay in order) and one CriticalAlert per panic value on `clinical.alerts.v1`.
 *
 * Everything that can never succeed as it is — bytes that do not parse, a message type this
 * flow does not map, an unmapped code, an invalid value — is a PermanentError: the record goes
 * to `lab.hl7-inbound.v1.dlt` with the reason and the offset moves on. Anything else (broker,
 * registry) is retried with backoff and never skipped.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  payloadDigest,
  Topics,
  type CriticalAlert,
  type LabResult,
  type RawHl7Envelope,
} from '@ancillary/contracts';
import { Hl7Message, Hl7ParseError, type FallbackCharset } from '@ancillary/hl7-core';
import {
  criticalAlerts,
  NormalizationError,
  normalizeLabMessage,
  resultKey,
} from '@ancillary/lab-normalization';
import { ConsumeTopic } from '@ancillary/messaging-nest';
import { type ConsumedMessage, MessageProducer, PermanentError } from '@ancillary/messaging-kafka';
import { counter, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import { type Terminology, TerminologyStore } from '@ancillary/terminology';

export const NORMALIZER_SETTINGS = Symbol('ancillary.normalizer.settings');

export interface NormalizerSettings {
  /** IANA zone for HL7 timestamps sent without an offset (the hospital's local time). */
  defaultTimeZone: string;
}

/** A mapping failure, with a stable code for the dead-letter header and metrics. */
export class LabMappingError extends PermanentError {
  override readonly code: string;
  constructor(code: string, message: string, cause: unknown) {
    super(message, { cause });
    this.code = code;
  }
}

const results = counter('normalizer_lab_results_total', 'LabResults produced, by result status.', [
  'status',
]);
const failures = counter(
  'normalizer_lab_failures_total',
  'Lab messages that could not be mapped (dead-lettered), by reason code.',
  ['code'],
);
const alerts = counter('normalizer_critical_alerts_total', 'Critical-value alerts raised.');

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

@Injectable()
export class LabNormalizerHandler {
  constructor(
    private readonly terminology: TerminologyStore,
    private readonly producer: MessageProducer,
    @Inject(NORMALIZER_SETTINGS) private readonly settings: NormalizerSettings,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @ConsumeTopic(Topics.labHl7Inbound)
  async onInbound(
    envelope: RawHl7Envelope,
    record: ConsumedMessage<RawHl7Envelope>,
  ): Promise<void> {
    // One version of the tables for the whole message (a reload may swap them meanwhile).
    const terminology = this.terminology.current;
    const labResults = this.map(envelope, terminology);
    const raisedAt = Date.now();
    const criticals: CriticalAlert[] = labResults.flatMap((r) =>
      criticalAlerts(r, raisedAt, terminology),
    );

    await this.producer.publishBatch<LabResult>(
      Topics.clinicalResults,
      labResults.map((value) => ({ key: resultKey(value), value, context: record.context })),
    );
    if (criticals.length > 0) {
      await this.producer.publishBatch<CriticalAlert>(
        Topics.clinicalAlerts,
        criticals.map((value) => ({
          key: value.patientIdentifier,
          value,
          context: record.context,
        })),
      );
      alerts.inc(criticals.length);
      this.logger.warn(
        {
          messageControlId: envelope.messageControlId,
          // Ids and codes only: the value and the reason's text are patient data.
          alerts: criticals.map((a) => ({
            alertId: a.alertId,
            loinc: a.loincCode,
            priority: a.priority,
          })),
        },
        'critical values: alerts raised',
      );
    }
    for (const r of labResults) results.inc({ status: r.status });
  }

  /** Parses and maps, turning every content problem into a precise permanent error. */
  private map(envelope: RawHl7Envelope, terminology: Terminology): LabResult[] {
    const fail = (code: string, message: string, cause?: unknown): never => {
      failures.inc({ code });
      this.logger.warn(
        {
          code,
          reason: message,
          sourceSystem: envelope.sourceSystem,
          messageControlId: envelope.messageControlId,
          envelopeId: envelope.envelopeId,
        },
        'lab message not mapped; dead-lettering',
      );
      throw new LabMappingError(code, message, cause);
    };
    if (envelope.messageType !== 'ORU^R01') {
      return fail(
        'unsupported-message-type',
        `message type ${envelope.messageType} is not a lab result (ORU^R01); the lab normalizer does not map it`,
      );
    }
    let message: Hl7Message;
    const fallbackCharset = fallbackCharsetOf(envelope.charset);
    try {
      message = Hl7Message.parse(envelope.payload, {
        ...(fallbackCharset ? { fallbackCharset } : {}),
      });
    } catch (error) {
      if (error instanceof Hl7ParseError) return fail('unparseable', error.message, error);
      throw error;
    }
    try {
      return normalizeLabMessage(
        message,
        {
          sourceSystem: envelope.sourceSystem,
          envelopeId: envelope.envelopeId,
          receivedAt: envelope.receivedAt,
          payloadDigest: payloadDigest(envelope.payload),
        },
        terminology,
        { defaultTimeZone: this.settings.defaultTimeZone },
      );
    } catch (error) {
      if (error instanceof NormalizationError) return fail(error.code, error.message, error);
      throw error;
    }
  }
}
