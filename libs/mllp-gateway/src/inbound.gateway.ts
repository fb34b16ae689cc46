/**
 * What an inbound gateway does with each MLLP frame: key and route it from MSH/PID, publish
 * the original bytes in a RawHl7Envelope with acks=all, and only then let the server answer
 * AA/CA. Anything that prevents storing the message answers AE/CE (the sender resends) or, for
 * content we will never accept, AR/CR with an ERR saying why. Nothing is acknowledged that is
 * not on the topic.
 */
import { payloadDigest, type RawHl7Envelope, type TopicDefinition } from '@ancillary/contracts';
import type { Hl7Message } from '@ancillary/hl7-core';
import { MllpResult, type MllpHandlerResult, type MllpMessageContext } from '@ancillary/hl7-mllp';
import { type MessageProducer, newMessageContext } from '@ancillary/messaging-kafka';
import {
  counter,
  describeError,
  getTracer,
  histogram,
  type Logger,
} from '@ancillary/observability';
import { withTimeout } from '@ancillary/retry';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import type { DedupeStore } from './dedupe.store';

export interface InboundGatewayOptions {
  /** The configured name of this ancillary connection, e.g. `lis-main`. */
  sourceSystem: string;
  topic: TopicDefinition;
  /** MSH-9.1^MSH-9.2 values accepted; anything else is answered AR/CR (code 200). */
  acceptedMessageTypes: readonly string[];
  producer: Pick<MessageProducer, 'publish'>;
  /** Absent: no de-duplication (every frame is published). */
  dedupe?: DedupeStore;
  /**
   * Deadline of each de-duplication query (default 1 s): the store sits on the ACK path, and a
   * slow database must cost at most a possible second copy on the topic, never an AE.
   */
  dedupeTimeoutMs?: number;
  logger: Logger;
}

const tracer = getTracer('@ancillary/mllp-gateway');

const messages = counter(
  'gateway_messages_total',
  'MLLP messages handled by an inbound gateway, by outcome (stored, duplicate, rejected, failed).',
  ['source_system', 'message_type', 'outcome'],
);
const dedupeFailures = counter(
  'gateway_dedupe_failures_total',
  'De-duplication store errors (the message was published anyway).',
  ['source_system', 'operation'],
);
const publishSeconds = histogram(
  'gateway_publish_duration_seconds',
  'Time for the broker to acknowledge (acks=all) one inbound envelope.',
  ['source_system'],
);

/** The partition key: the first PID-3 identifier (one patient's messages stay in order), else MSH-10. */
export function inboundKey(message: Hl7Message): string {
  const identifier = message.get('PID-3.1');
  return identifier && identifier.length > 0 ? identifier : message.controlId;
}

export class InboundGateway {
  constructor(private readonly options: InboundGatewayOptions) {}

  async handle(message: Hl7Message, context: MllpMessageContext): Promise<MllpHandlerResult> {
    const { sourceSystem } = this.options;
    const messageType = message.messageType;
    return tracer.startActiveSpan(
      `${this.options.topic.name} receive`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'hl7.message_type': messageType,
          'hl7.message_control_id': message.controlId,
          'hl7.source_system': sourceSystem,
          'net.peer.address': context.connection.remoteAddress,
        },
      },
      async (span) => {
        try {
          const result = await this.store(message, context);
          span.setAttribute('hl7.ack_outcome', result.outcome);
          if (result.outcome !== 'accept') span.setStatus({ code: SpanStatusCode.ERROR });
          return result;
        } finally {
          span.end();
        }
      },
    );
  }

  private async store(
    message: Hl7Message,
    context: MllpMessageContext,
  ): Promise<MllpHandlerResult> {
    const { sourceSystem, logger } = this.options;
    const messageType = message.messageType;
    const controlId = message.controlId;
    const log = logger.child({ sourceSystem, messageControlId: controlId, messageType });
    const count = (outcome: string) => {
      messages.inc({ source_system: sourceSystem, message_type: messageType, outcome });
    };

    if (controlId.length === 0) {
      count('rejected');
      log.warn('rejected: MSH-10 (message control id) is empty');
      return MllpResult.reject([
        {
          segment: 'MSH',
          field: 10,
          hl7ErrorCode: '101',
          text: 'MSH-10 message control id is required',
        },
      ]);
    }
    if (!this.options.acceptedMessageTypes.includes(messageType)) {
      count('rejected');
      log.warn(
        { accepted: this.options.acceptedMessageTypes },
        'rejected: message type not accepted',
      );
      return MllpResult.reject([
        {
          segment: 'MSH',
          field: 9,
          hl7ErrorCode: '200',
          text: `message type ${messageType || '(empty)'} is not accepted on this connection (accepted: ${this.options.acceptedMessageTypes.join(', ')})`,
        },
      ]);
    }

    const key = {
      sourceSystem,
      messageControlId: controlId,
      payloadDigest: payloadDigest(context.raw),
    };
    const dedupe = this.options.dedupe;
    if (dedupe) {
      try {
        const earlier = await this.bounded(dedupe.seen(key), 'lookup');
        if (earlier) {
          count('duplicate');
          log.info(
            { envelopeId: earlier.envelopeId, timesSeen: earlier.timesSeen },
            'duplicate acknowledged, not republished (same sender, MSH-10 and bytes)',
          );
          return MllpResult.accept();
        }
      } catch (error) {
        dedupeFailures.inc({ source_system: sourceSystem, operation: 'lookup' });
        log.warn({ err: describeError(error) }, 'dedupe lookup failed; publishing anyway');
      }
    }

    const envelope = this.envelope(message, context);
    const started = process.hrtime.bigint();
    try {
      await this.options.producer.publish<RawHl7Envelope>(this.options.topic, {
        key: inboundKey(message),
        value: envelope,
        context: newMessageContext({ messageControlId: controlId, sourceSystem }),
      });
    } catch (error) {
      count('failed');
      log.error(
        { err: describeError(error), envelopeId: envelope.envelopeId },
        'could not store the message on Kafka; answering AE/CE so the sender resends',
      );
      // Generic ERR (207): the cause is ours, in our logs, not the sender's business.
      return MllpResult.error([
        { hl7ErrorCode: '207', text: 'message could not be stored, please resend' },
      ]);
    }
    publishSeconds.observe(
      { source_system: sourceSystem },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
    count('stored');

    if (dedupe) {
      try {
        await this.bounded(dedupe.remember(key, envelope.envelopeId, context.receivedAt), 'record');
      } catch (error) {
        dedupeFailures.inc({ source_system: sourceSystem, operation: 'remember' });
        log.warn(
          { err: describeError(error) },
          'dedupe record failed after the message was stored',
        );
      }
    }
    return MllpResult.accept();
  }

  private bounded<T>(query: Promise<T>, operation: string): Promise<T> {
    const ms = this.options.dedupeTimeoutMs ?? 1_000;
    return withTimeout(query, ms, () => new Error(`dedupe ${operation} took longer than ${ms} ms`));
  }

  private envelope(message: Hl7Message, context: MllpMessageContext): RawHl7Envelope {
    const nonEmpty = (value: string | undefined) => (value && value.length > 0 ? value : null);
    const { connection } = context;
    return {
      envelopeId: randomUUID(),
      receivedAt: context.receivedAt.getTime(),
      sourceSystem: this.options.sourceSystem,
      sendingApplication: nonEmpty(message.get('MSH-3')),
      sendingFacility: nonEmpty(message.get('MSH-4')),
      receivingApplication: nonEmpty(message.get('MSH-5')),
      receivingFacility: nonEmpty(message.get('MSH-6')),
      messageControlId: message.controlId,
      messageType: message.messageType,
      messageStructure: nonEmpty(message.messageStructure),
      hl7Version: message.version,
      charset: message.charset,
      payload: context.raw,
      peerAddress: `${connection.remoteAddress}:${connection.remotePort}`,
    };
  }
}
