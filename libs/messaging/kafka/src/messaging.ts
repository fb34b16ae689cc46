/**
 * The messaging facade a service builds once: one Kafka client, one registry codec, one
 * idempotent producer and its dead-letter publisher, and consumer runners on demand.
 */
import type { Logger, ReadinessCheck } from '@ancillary/observability';
import type { Kafka } from 'kafkajs';
import { AvroCodec } from './avro.codec';
import { ConsumerRunner, type ConsumerRunnerOptions } from './consumer.runner';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { createKafka, type KafkaConnectionOptions } from './kafka.client';
import { MessageProducer } from './message.producer';
import { brokerReadiness, registryReadiness } from './readiness';

export interface MessagingOptions {
  /** The service's name: Kafka client id, producer header, dead-letter provenance. */
  service: string;
  brokers: string[];
  registryUrl: string;
  kafka?: Partial<Omit<KafkaConnectionOptions, 'brokers'>>;
  publishTimeoutMs?: number;
}

export class Messaging {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly producer: MessageProducer;
  readonly deadLetters: DeadLetterPublisher;
  private readonly consumers: ConsumerRunner[] = [];

  constructor(
    readonly options: MessagingOptions,
    private readonly logger: Logger,
  ) {
    this.kafka = createKafka(
      { clientId: options.service, ...options.kafka, brokers: options.brokers },
      logger,
    );
    this.codec = new AvroCodec({ registryUrl: options.registryUrl, clientId: options.service });
    this.producer = new MessageProducer(this.kafka, this.codec, logger, {
      service: options.service,
      ...(options.publishTimeoutMs !== undefined
        ? { publishTimeoutMs: options.publishTimeoutMs }
        : {}),
    });
    this.deadLetters = new DeadLetterPublisher(this.producer, logger);
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  /** A consumer runner wired to this service's codec and dead-letter publisher (not started). */
  consumer(options: ConsumerRunnerOptions): ConsumerRunner {
    const runner = new ConsumerRunner(
      this.kafka,
      this.codec,
      this.deadLetters,
      this.logger,
      options,
    );
    this.consumers.push(runner);
    return runner;
  }

  readinessChecks(): ReadinessCheck[] {
    return [
      brokerReadiness(this.kafka),
      registryReadiness(this.options.registryUrl),
      {
        name: 'consumers',
        check: () => {
          const down = this.consumers.filter((c) => !c.isHealthy()).map((c) => c.groupId);
          if (down.length > 0) {
            return Promise.reject(new Error(`consumer groups not running: ${down.join(', ')}`));
          }
          const joining = this.consumers.filter((c) => !c.hasJoined()).map((c) => c.groupId);
          return joining.length === 0
            ? Promise.resolve()
            : Promise.reject(new Error(`consumer groups still joining: ${joining.join(', ')}`));
        },
      },
    ];
  }

  /**
   * For /health: fails when a consumer group crashed for good, so the orchestrator restarts the
   * process (a broker outage does not fail it: kafkajs keeps retrying those itself).
   */
  livenessChecks(): ReadinessCheck[] {
    return [
      {
        name: 'consumers',
        check: () => {
          const crashed = this.consumers.filter((c) => c.hasCrashed()).map((c) => c.groupId);
          return crashed.length === 0
            ? Promise.resolve()
            : Promise.reject(new Error(`consumer groups crashed for good: ${crashed.join(', ')}`));
        },
      },
    ];
  }

  /** Stops consumers first (they may still dead-letter through the producer), then the producer. */
  async close(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop()));
    await this.producer.disconnect();
  }
}
