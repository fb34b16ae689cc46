/**
 * Publishes Avro records: idempotent, acks=all, key = the patient (or order) identity, and
 * headers from buildHeaders(). A publish resolves only once every in-sync replica has the
 * record; callers that answer someone (an MLLP gateway's ACK) wait for it first.
 */
import { valueSubjectOf, type TopicDefinition } from '@ancillary/contracts';
import {
  counter,
  describeError,
  getTracer,
  histogram,
  type Logger,
} from '@ancillary/observability';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  CompressionTypes,
  Partitioners,
  type Kafka,
  type Producer,
  type RecordMetadata,
} from 'kafkajs';
import type { AvroCodec } from './avro.codec';
import { PublishError } from './errors';
import { withTimeout } from '@ancillary/retry';
import { buildHeaders, type MessageContext, type StringHeaders } from './message-context';

export interface OutgoingMessage<T> {
  /** The patient (or order) identity: it decides the partition, and so the ordering. */
  key: string;
  value: T;
  context: MessageContext;
}

export interface RawRecord {
  key: Buffer | string | null;
  value: Buffer | null;
  headers: StringHeaders;
}

export interface MessageProducerOptions {
  /** The service name written to the producer header and the dead-letter provenance. */
  service: string;
  /** Upper bound for one publish, ms; past it the publish fails with PublishError. */
  publishTimeoutMs?: number;
}

const tracer = getTracer('@ancillary/messaging-kafka');

export class MessageProducer {
  private readonly producer: Producer;
  private readonly timeoutMs: number;
  private connected = false;
  private readonly published = counter(
    'ancillary_messaging_published_total',
    'Records durably published',
    ['topic'],
  );
  private readonly failures = counter(
    'ancillary_messaging_publish_failures_total',
    'Publishes that Kafka did not acknowledge',
    ['topic', 'error_class'],
  );
  private readonly latency = histogram(
    'ancillary_messaging_publish_seconds',
    'Time from publish to acks=all acknowledgement',
    ['topic'],
  );

  constructor(
    kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly logger: Logger,
    private readonly options: MessageProducerOptions,
  ) {
    this.timeoutMs = options.publishTimeoutMs ?? 10_000;
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2 like the Java client: a patient's key lands on the same partition whichever
      // client (ours, an analytics team's JVM job, a replay tool) produced it.
      createPartitioner: Partitioners.DefaultPartitioner,
      // Bounded, so that a caller waiting to acknowledge a sender gets an answer; the
      // idempotent producer still de-duplicates the retries it does make.
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2_000 },
    });
  }

  get service(): string {
    return this.options.service;
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    await this.producer.connect();
    this.connected = true;
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    await this.producer.disconnect();
    this.connected = false;
  }

  /** Encodes and publishes one record; resolves when Kafka has it (acks=all). */
  async publish<T>(topic: TopicDefinition, message: OutgoingMessage<T>): Promise<RecordMetadata> {
    const [metadata] = await this.publishBatch(topic, [message]);
    if (!metadata) throw new PublishError(`Kafka returned no metadata for ${topic.name}`);
    return metadata;
  }

  /** Publishes several records to one topic in one request; all or none are acknowledged. */
  async publishBatch<T>(
    topic: TopicDefinition,
    messages: OutgoingMessage<T>[],
  ): Promise<RecordMetadata[]> {
    const span = tracer.startSpan(`${topic.name} publish`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.destination.name': topic.name,
        'messaging.batch.message_count': messages.length,
      },
    });
    const spanContext = trace.setSpan(context.active(), span);
    try {
      const subject = valueSubjectOf(topic.name);
      const records = await Promise.all(
        messages.map(async (m) => ({
          key: m.key,
          value: await this.codec.encode(subject, topic.value, m.value),
          headers: buildHeaders(m.context, this.options.service, spanContext),
        })),
      );
      const result = await this.sendRaw(topic.name, records);
      this.published.inc({ topic: topic.name }, messages.length);
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  }

  /**
   * Publishes already-encoded records (dead letters, replays). Bytes are sent exactly as
   * given, so a record can be moved between a topic and its dead-letter topic unchanged.
   */
  async sendRaw(topicName: string, records: RawRecord[]): Promise<RecordMetadata[]> {
    const stop = this.latency.startTimer({ topic: topicName });
    try {
      const send = this.producer.send({
        topic: topicName,
        acks: -1,
        compression: CompressionTypes.None,
        messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
      });
      const result = await withTimeout(
        send,
        this.timeoutMs,
        () =>
          new PublishError(`Kafka did not acknowledge ${topicName} within ${this.timeoutMs} ms`),
      );
      stop();
      return result;
    } catch (error) {
      const failure =
        error instanceof PublishError
          ? error
          : new PublishError(`publishing to ${topicName} failed: ${(error as Error).message}`, {
              cause: error,
            });
      this.failures.inc({ topic: topicName, error_class: (error as Error).name });
      this.logger.error(
        { topic: topicName, records: records.length, ...describeError(error) },
        'publish failed',
      );
      throw failure;
    }
  }
}
