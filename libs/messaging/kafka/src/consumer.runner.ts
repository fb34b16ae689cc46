/**
 * Runs a consumer group: decode, handle, and commit an offset only after its record was
 * handled (or durably dead-lettered). Records of one partition are handled strictly in order
 * — the key is the patient, so one patient's messages never overtake each other — and a
 * record being retried holds its partition until it succeeds or is dead-lettered.
 *
 * Delivery is at-least-once: a crash between handling and committing redelivers the record,
 * which is why every handler in the platform is idempotent.
 */
import type { TopicDefinition } from '@ancillary/contracts';
import {
  counter,
  describeError,
  gauge,
  getTracer,
  histogram,
  type Logger,
} from '@ancillary/observability';
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { AvroCodec } from './avro.codec';
import type { DeadLetterPublisher } from './dead-letter.publisher';
import { errorCode, isRetriable } from './errors';
import {
  extractTraceContext,
  headersToStrings,
  readContext,
  type MessageContext,
  type StringHeaders,
} from './message-context';
import {
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  validateRetryPolicy,
  type RetryPolicy,
} from '@ancillary/retry';

export interface ConsumedMessage<T> {
  topic: string;
  partition: number;
  offset: string;
  /** Broker timestamp, ms since the epoch, as a string (kafkajs keeps it as a string). */
  timestamp: string;
  key: string | null;
  value: T;
  headers: StringHeaders;
  context: MessageContext;
  /** 1 for the first attempt, 2 for the first retry, … */
  attempt: number;
}

export type MessageHandler<T> = (message: ConsumedMessage<T>) => Promise<void>;

export interface Subscription<T = unknown> {
  topic: TopicDefinition;
  handler: MessageHandler<T>;
  /** This topic's retry policy, over the runner's (e.g. unlimited attempts for an outbound sender). */
  retry?: Partial<RetryPolicy>;
}

export interface CommittedOffset {
  topic: string;
  partition: number;
  /** The next offset to read (last handled + 1), as Kafka stores it. */
  offset: string;
}

export interface ConsumerRunnerOptions {
  groupId: string;
  subscriptions: Subscription<never>[];
  retry?: Partial<RetryPolicy>;
  /** Where a group with no committed offset starts. Default: the beginning (nothing is skipped). */
  fromBeginning?: boolean;
  /** Partitions handled in parallel by this instance (order within a partition is kept). */
  partitionsConsumedConcurrently?: number;
  /** Commit handled offsets at least this often while a batch is running, ms. */
  commitIntervalMs?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /**
   * Longest a fetch waits for new records, ms. It also bounds how long stop() waits for the
   * fetch in flight, so it is kept short (default 1000).
   */
  maxWaitTimeMs?: number;
  /** Called after each successful offset commit (for tests and tooling). */
  onCommit?: (offsets: CommittedOffset[]) => void;
}

/** Thrown inside a batch when the runner is stopping during a retry wait: the record is not committed. */
class StopRequested extends Error {}

const tracer = getTracer('@ancillary/messaging-kafka');

export class ConsumerRunner {
  private readonly consumer: Consumer;
  private readonly retry: RetryPolicy;
  private readonly subscriptions = new Map<string, Subscription<never>>();
  private stopping = false;
  private running = false;
  private crashed: Error | undefined;
  private joined = false;

  private readonly handled = counter(
    'ancillary_messaging_consumed_total',
    'Records handled, by outcome',
    ['topic', 'group', 'outcome'],
  );
  private readonly retries = counter(
    'ancillary_messaging_retries_total',
    'Handler attempts that failed and were retried',
    ['topic', 'group', 'error_code'],
  );
  private readonly duration = histogram(
    'ancillary_messaging_handle_seconds',
    'Time to handle one record, retries included',
    ['topic', 'group'],
  );
  private readonly lag = gauge(
    'ancillary_messaging_consumer_lag',
    'Records behind the partition end',
    ['topic', 'partition', 'group'],
  );
  private readonly commits = counter('ancillary_messaging_commits_total', 'Offset commits', [
    'topic',
    'group',
  ]);

  constructor(
    kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly deadLetters: DeadLetterPublisher,
    private readonly logger: Logger,
    private readonly options: ConsumerRunnerOptions,
  ) {
    this.retry = validateRetryPolicy({ ...DEFAULT_RETRY_POLICY, ...options.retry });
    for (const subscription of options.subscriptions) {
      if (this.subscriptions.has(subscription.topic.name)) {
        throw new Error(
          `topic ${subscription.topic.name} is subscribed twice in group ${options.groupId}`,
        );
      }
      this.subscriptions.set(subscription.topic.name, subscription);
    }
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
      maxWaitTimeInMs: options.maxWaitTimeMs ?? 1_000,
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload as { error: Error; restart: boolean };
      this.logger.error(
        { groupId: options.groupId, restart, ...describeError(error) },
        'consumer crashed',
      );
      if (!restart) this.crashed = error;
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      this.joined = true;
    });
  }

  get groupId(): string {
    return this.options.groupId;
  }

  /** False once the consumer has crashed for good (readiness reports it). */
  isHealthy(): boolean {
    return this.running && this.crashed === undefined;
  }

  /** True once kafkajs gave up restarting this consumer: only a process restart brings it back. */
  hasCrashed(): boolean {
    return this.crashed !== undefined;
  }

  /** True once the group has been joined at least once (partitions are being fetched). */
  hasJoined(): boolean {
    return this.joined;
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [...this.subscriptions.keys()],
      fromBeginning: this.options.fromBeginning ?? true,
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.running = true;
    this.logger.info(
      { groupId: this.options.groupId, topics: [...this.subscriptions.keys()] },
      'consumer started',
    );
  }

  /**
   * Graceful stop: no new fetches, the record in hand is finished (a retry wait is cut
   * short and that record left uncommitted), handled offsets are committed, then disconnect.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect();
    this.running = false;
    this.logger.info({ groupId: this.options.groupId }, 'consumer stopped');
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    const heartbeat = () => payload.heartbeat();
    const subscription = this.subscriptions.get(topic);
    if (!subscription) throw new Error(`no handler for topic ${topic}`);
    const labels = { topic, group: this.options.groupId };
    const commitInterval = this.options.commitIntervalMs ?? 1_000;
    let pending: string | undefined;
    let lastCommit = Date.now();

    const commit = async () => {
      if (pending === undefined) return;
      const offsets = [{ topic, partition, offset: pending }];
      // Through the batch's own handle: Consumer#commitOffsets silently does nothing once
      // stop() has begun, which would lose the commit of the record finished during shutdown.
      await payload.commitOffsetsIfNecessary({
        topics: [{ topic, partitions: [{ partition, offset: pending }] }],
      });
      pending = undefined;
      lastCommit = Date.now();
      this.commits.inc(labels);
      this.options.onCommit?.(offsets);
    };

    let failure: unknown;
    try {
      for (const message of batch.messages) {
        if (this.stopping || !payload.isRunning() || payload.isStale()) break;
        await this.handle(subscription, topic, partition, message, heartbeat);
        payload.resolveOffset(message.offset);
        pending = (BigInt(message.offset) + 1n).toString();
        this.lag.set(
          { ...labels, partition: String(partition) },
          Math.max(0, Number(batch.highWatermark) - Number(pending)),
        );
        if (Date.now() - lastCommit >= commitInterval) await commit();
        await heartbeat();
      }
    } catch (error) {
      failure = error;
    }
    // Whatever was handled is committed, even when a later record failed; a partition that
    // was revoked meanwhile is not ours to commit (its new owner re-reads those records).
    if (!payload.isStale()) await commit();
    if (failure !== undefined && !(failure instanceof StopRequested)) {
      throw failure instanceof Error
        ? failure
        : new Error('batch failed with a non-Error value', { cause: failure });
    }
  }

  /** Handles one record until it succeeds or is dead-lettered; throws only if dead-lettering failed. */
  private async handle(
    subscription: Subscription<never>,
    topic: string,
    partition: number,
    message: KafkaMessage,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const labels = { topic, group: this.options.groupId };
    const stopTimer = this.duration.startTimer(labels);
    const headers = headersToStrings(message.headers);
    const messageContext = readContext(headers);
    const parent = extractTraceContext(headers);
    const logFields = {
      topic,
      partition,
      offset: message.offset,
      groupId: this.options.groupId,
      correlationId: messageContext.correlationId,
      messageControlId: messageContext.messageControlId,
    };

    // Decoded once: a retry re-runs the handler, not the decode (which is retried only while
    // it has not succeeded, e.g. when the registry was unreachable).
    let decoded: { value: never } | undefined;
    const key = message.key ? message.key.toString('utf8') : null;

    for (let attempt = 1; ; attempt++) {
      const error = await context.with(parent, () =>
        tracer.startActiveSpan(
          `${topic} process`,
          {
            kind: SpanKind.CONSUMER,
            attributes: {
              'messaging.system': 'kafka',
              'messaging.operation.type': 'process',
              'messaging.destination.name': topic,
              'messaging.destination.partition.id': String(partition),
              'messaging.kafka.offset': Number(message.offset),
              'messaging.consumer.group.name': this.options.groupId,
              'messaging.message.conversation_id': messageContext.correlationId,
              'ancillary.attempt': attempt,
            },
          },
          async (span) => {
            try {
              decoded ??= {
                value: await this.codec.decode<never>(subscription.topic.value, message.value),
              };
              await subscription.handler({
                topic,
                partition,
                offset: message.offset,
                timestamp: message.timestamp,
                key,
                value: decoded.value,
                headers,
                context: messageContext,
                attempt,
              });
              span.setStatus({ code: SpanStatusCode.OK });
              return undefined;
            } catch (caught) {
              span.recordException(caught as Error);
              span.setStatus({ code: SpanStatusCode.ERROR, message: (caught as Error).message });
              return caught ?? new Error('handler rejected without a reason');
            } finally {
              span.end();
            }
          },
        ),
      );

      if (error === undefined) {
        this.handled.inc({ ...labels, outcome: 'handled' });
        stopTimer();
        return;
      }
      const policy = this.policyOf(subscription);
      if (!isRetriable(error) || attempt >= policy.maxAttempts) {
        await this.deadLetters.publish({ topic, partition, message }, error, attempt);
        this.handled.inc({ ...labels, outcome: 'dead_lettered' });
        stopTimer();
        return;
      }
      const delay = backoffDelayMs(policy, attempt);
      this.retries.inc({ ...labels, error_code: errorCode(error) });
      this.logger.warn(
        { ...logFields, attempt, retryInMs: delay, ...describeError(error) },
        'handler failed, will retry',
      );
      await this.wait(delay, heartbeat);
    }
  }

  private readonly policies = new Map<Subscription<never>, RetryPolicy>();

  private policyOf(subscription: Subscription<never>): RetryPolicy {
    let policy = this.policies.get(subscription);
    if (!policy) {
      policy = subscription.retry
        ? validateRetryPolicy({ ...this.retry, ...subscription.retry })
        : this.retry;
      this.policies.set(subscription, policy);
    }
    return policy;
  }

  /** Sleeps between attempts while keeping the group membership alive; cut short by stop(). */
  private async wait(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      if (this.stopping) throw new StopRequested();
      const left = until - Date.now();
      if (left <= 0) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, 500)));
      await heartbeat();
    }
  }
}
