/**
 * Watches `clinical.results-written.v1` — the ehr-writer's "this result is readable in FHIR"
 * event — and remembers, by MSH-10, when each result appeared. End-to-end tests and the e2e
 * benchmark send through MLLP and wait here, instead of polling the FHIR API: the time from
 * sending to seeing the event is the receipt-to-chart latency.
 *
 * It reads from the moment `start()` was called: the end offsets are taken first, and the fresh
 * consumer group is moved to them once it has its partitions, so nothing published after
 * `start()` began is missed and nothing older is read (a sighting twice, from the overlap of a
 * fetch before the seek, is recognised by partition and offset and counted once).
 */
import { ResultWrittenContract, Topics, type ResultWritten } from '@ancillary/contracts';
import { AvroCodec, createKafka } from '@ancillary/messaging-kafka';
import { createLogger, describeError, type Logger } from '@ancillary/observability';
import type { Consumer, Kafka } from 'kafkajs';
import { randomUUID } from 'node:crypto';

export interface ResultWrittenSighting {
  event: ResultWritten;
  /** Wall clock (epoch ms) when the record reached this watcher. */
  seenAt: number;
  partition: number;
  offset: string;
}

export interface ResultWrittenWatcherOptions {
  brokers: string[];
  registryUrl: string;
  /** Default `clinical.results-written.v1`. */
  topic?: string;
  /** Default a silent logger (warn level to stderr is the caller's choice). */
  logger?: Logger;
  /** How long `start()` waits for the group to be joined; default 60 s. */
  joinTimeoutMs?: number;
}

export interface ResultWrittenWait {
  /** Every awaited control id that was seen, with its sightings. */
  seen: Map<string, ResultWrittenSighting[]>;
  /** Awaited control ids not seen before the deadline. */
  missing: string[];
}

export class ResultWrittenWatcher {
  readonly topic: string;
  private readonly kafka: Kafka;
  private readonly codec: AvroCodec;
  private readonly logger: Logger;
  private consumer: Consumer | undefined;
  private readonly byControlId = new Map<string, ResultWrittenSighting[]>();
  private readonly positions = new Set<string>();
  private readonly listeners = new Set<(sighting: ResultWrittenSighting) => void>();
  private decodeFailures = 0;
  private total = 0;

  constructor(private readonly options: ResultWrittenWatcherOptions) {
    this.topic = options.topic ?? Topics.clinicalResultsWritten.name;
    this.logger =
      options.logger ?? createLogger({ service: 'result-written-watcher', level: 'silent' });
    this.kafka = createKafka(
      { clientId: 'result-written-watcher', brokers: options.brokers },
      this.logger,
    );
    this.codec = new AvroCodec({
      registryUrl: options.registryUrl,
      clientId: 'result-written-watcher',
    });
  }

  /** Events seen so far (each record once). */
  get seenCount(): number {
    return this.total;
  }

  /** Records on the topic that did not decode as ResultWritten (each was logged). */
  get undecodable(): number {
    return this.decodeFailures;
  }

  /** Every sighting of a message control id (one per order group, more on replays). */
  get(controlId: string): readonly ResultWrittenSighting[] | undefined {
    return this.byControlId.get(controlId);
  }

  /** Calls `listener` for every event from now on; returns the unsubscribe function. */
  onSighting(listener: (sighting: ResultWrittenSighting) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Joins a fresh consumer group at the topic's current end; resolves once it reads. */
  async start(): Promise<void> {
    if (this.consumer) throw new Error('ResultWrittenWatcher already started');
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: { partition: number; offset: string }[];
    try {
      ends = (await admin.fetchTopicOffsets(this.topic)).map((p) => ({
        partition: p.partition,
        offset: p.high,
      }));
    } finally {
      await admin.disconnect();
    }
    const consumer = this.kafka.consumer({
      groupId: `result-written-watcher-${randomUUID()}`,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
    });
    this.consumer = consumer;
    const joined = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `result-written watcher: no partitions of ${this.topic} assigned within ${this.options.joinTimeoutMs ?? 60_000} ms`,
          ),
        );
      }, this.options.joinTimeoutMs ?? 60_000);
      consumer.on(consumer.events.GROUP_JOIN, () => {
        clearTimeout(timer);
        for (const { partition, offset } of ends)
          consumer.seek({ topic: this.topic, partition, offset });
        resolve();
      });
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: false });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const seenAt = Date.now();
        const position = `${partition}:${message.offset}`;
        if (this.positions.has(position)) return;
        this.positions.add(position);
        let event: ResultWritten;
        try {
          event = await this.codec.decode<ResultWritten>(ResultWrittenContract, message.value);
        } catch (error) {
          this.decodeFailures += 1;
          this.logger.warn(
            { topic: this.topic, partition, offset: message.offset, ...describeError(error) },
            'record on the results-written topic does not decode as ResultWritten: skipped',
          );
          return;
        }
        this.total += 1;
        const sighting: ResultWrittenSighting = {
          event,
          seenAt,
          partition,
          offset: message.offset,
        };
        const list = this.byControlId.get(event.messageControlId);
        if (list) list.push(sighting);
        else this.byControlId.set(event.messageControlId, [sighting]);
        for (const listener of this.listeners) listener(sighting);
      },
    });
    try {
      await joined;
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /**
   * Resolves when every control id has been seen at least once, or at the deadline with the
   * ones still missing. Never rejects for missing results: the caller decides what they mean.
   */
  waitForAll(controlIds: Iterable<string>, timeoutMs: number): Promise<ResultWrittenWait> {
    const wanted = new Set(controlIds);
    const seen = new Map<string, ResultWrittenSighting[]>();
    const settle = (): ResultWrittenWait => {
      for (const id of wanted) {
        const sightings = this.byControlId.get(id);
        if (sightings) seen.set(id, sightings);
      }
      return { seen, missing: [...wanted].filter((id) => !seen.has(id)) };
    };
    const pending = new Set([...wanted].filter((id) => !this.byControlId.has(id)));
    if (pending.size === 0) return Promise.resolve(settle());
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        unsubscribe();
        resolve(settle());
      };
      const unsubscribe = this.onSighting((s) => {
        pending.delete(s.event.messageControlId);
        if (pending.size === 0) finish();
      });
      const timer = setTimeout(finish, timeoutMs);
    });
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.listeners.clear();
    if (consumer) await consumer.disconnect();
  }
}
