/**
 * The FHIR twin of the MLLP InboundGateway, for API-first pharmacy platforms that POST their
 * MedicationDispense instead of sending RDS^O13: the resource as received goes on the inbound
 * topic in a RawFhirEnvelope with acks=all, and only then is the request answered 202 Accepted.
 * If Kafka cannot store it the answer is 503 (the platform retries); content we will never
 * accept gets a 4xx OperationOutcome saying why. Nothing is accepted that is not on the topic.
 *
 * 202 rather than 201: the resource is not yet in the chart (the normalizer and the ehr-writer
 * work on it asynchronously), so there is no Location to give
 * (https://hl7.org/fhir/R4/async.html describes the same contract for asynchronous requests).
 */
import type { RawFhirEnvelope, TopicDefinition } from '@ancillary/contracts';
import { type MessageProducer, newMessageContext } from '@ancillary/messaging-kafka';
import {
  counter,
  describeError,
  getTracer,
  histogram,
  type Logger,
} from '@ancillary/observability';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { checkContentType, readFhirResource } from './fhir-intake';
import { FhirRequestError, operationOutcome, type OperationOutcome } from './operation-outcome';

export interface FhirInboundGatewayOptions {
  /** The configured name of this connection, e.g. `pharmacy-main`. */
  sourceSystem: string;
  topic: TopicDefinition;
  /** The resource type the endpoint takes, e.g. `MedicationDispense`. */
  resourceType: string;
  producer: Pick<MessageProducer, 'publish'>;
  logger: Logger;
}

export interface FhirInboundRequest {
  contentType: string | undefined;
  body: Buffer;
  /** `address:port` of the client, kept in the envelope for tracing a sender. */
  peerAddress: string | null;
}

export interface FhirInboundAnswer {
  status: number;
  body: OperationOutcome;
  headers: Record<string, string>;
}

/** Seconds a client should wait before resending after a 503. */
export const FHIR_RETRY_AFTER_SECONDS = 5;

const tracer = getTracer('@ancillary/pharmacy-gateway-service');

const requests = counter(
  'gateway_fhir_requests_total',
  'FHIR resources POSTed to a gateway, by outcome: accepted, failed (503), or the 4xx refusal (not-json, not-utf8, empty, wrong-resource-type, no-identifier, unsupported-media-type, unsupported-charset, too-large).',
  ['source_system', 'resource_type', 'outcome'],
);
const publishSeconds = histogram(
  'gateway_fhir_publish_duration_seconds',
  'Time for the broker to acknowledge (acks=all) one RawFhirEnvelope.',
  ['source_system'],
);

export class FhirInboundGateway {
  constructor(private readonly options: FhirInboundGatewayOptions) {}

  /** The outcome of a request whose body exceeded the limit before it was read in full. */
  tooLarge(limitBytes: number): FhirInboundAnswer {
    return this.refused(
      new FhirRequestError(
        413,
        {
          severity: 'error',
          code: 'too-long',
          diagnostics: `the request body is larger than ${limitBytes} bytes`,
        },
        'too-large',
      ),
    );
  }

  async handle(request: FhirInboundRequest): Promise<FhirInboundAnswer> {
    const { topic, resourceType, sourceSystem } = this.options;
    return tracer.startActiveSpan(
      `${topic.name} receive`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'fhir.resource_type': resourceType,
          'fhir.interaction': 'create',
          'hl7.source_system': sourceSystem,
          ...(request.peerAddress ? { 'net.peer.address': request.peerAddress } : {}),
        },
      },
      async (span) => {
        try {
          const answer = await this.store(request);
          span.setAttribute('http.response.status_code', answer.status);
          if (answer.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
          return answer;
        } finally {
          span.end();
        }
      },
    );
  }

  private async store(request: FhirInboundRequest): Promise<FhirInboundAnswer> {
    const { topic, resourceType, sourceSystem, logger } = this.options;
    let intake;
    try {
      checkContentType(request.contentType);
      intake = readFhirResource(request.body, resourceType);
    } catch (error) {
      if (error instanceof FhirRequestError) return this.refused(error);
      throw error;
    }

    const envelope: RawFhirEnvelope = {
      envelopeId: randomUUID(),
      receivedAt: Date.now(),
      sourceSystem,
      resourceType: intake.resourceType,
      interaction: 'create',
      idempotencyKey: intake.idempotencyKey,
      payload: intake.text,
      peerAddress: request.peerAddress,
    };
    const started = process.hrtime.bigint();
    try {
      await this.options.producer.publish<RawFhirEnvelope>(topic, {
        key: intake.key,
        value: envelope,
        context: newMessageContext({ sourceSystem }),
      });
    } catch (error) {
      this.count('failed');
      // The envelope id only: identifiers and the subject are patient data.
      logger.error(
        { err: describeError(error), envelopeId: envelope.envelopeId, resourceType },
        'could not store the FHIR resource on Kafka; answering 503 so the client resends',
      );
      return {
        status: 503,
        body: operationOutcome({
          severity: 'error',
          code: 'transient',
          diagnostics: `the ${resourceType} could not be stored; please resend it later`,
        }),
        headers: { 'Retry-After': String(FHIR_RETRY_AFTER_SECONDS) },
      };
    }
    publishSeconds.observe(
      { source_system: sourceSystem },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
    this.count('accepted');
    logger.debug({ envelopeId: envelope.envelopeId, resourceType }, 'FHIR resource stored');
    return {
      status: 202,
      body: operationOutcome({
        severity: 'information',
        code: 'informational',
        diagnostics: `${resourceType} accepted for processing as envelope ${envelope.envelopeId}`,
      }),
      headers: { 'X-Envelope-Id': envelope.envelopeId },
    };
  }

  private refused(error: FhirRequestError): FhirInboundAnswer {
    const { resourceType, logger, sourceSystem } = this.options;
    this.count(error.problem);
    // What kind of problem and where, never the content.
    logger.warn(
      {
        sourceSystem,
        resourceType,
        status: error.status,
        problem: error.problem,
        ...(error.issue.expression ? { expression: error.issue.expression } : {}),
      },
      `${resourceType} refused`,
    );
    return {
      status: error.status,
      body: operationOutcome(error.issue),
      headers: error.status === 413 ? { Connection: 'close' } : {},
    };
  }

  private count(outcome: string): void {
    requests.inc({
      source_system: this.options.sourceSystem,
      resource_type: this.options.resourceType,
      outcome,
    });
  }
}
