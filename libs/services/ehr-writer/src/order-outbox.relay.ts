/**
 * The outbox relay: publishes the order events the FHIR API wrote to `fhir.outbox` (in the
 * transaction of each order) to clinical.orders.v1 / clinical.orders-stat.v1, then marks them
 * published. At least once, in order, never lost:
 * - one replica publishes at a time: the one holding the outbox lease (a session advisory lock
 *   on a connection of its own); the others stand by and take over when it goes;
 * - rows go out in `seq` order, one at a time, and a failed publish stops the pass there, so a
 *   later event (a CANCEL) never overtakes an earlier one (its NEW); the pass is retried later;
 * - a crash between a publish and its mark republishes the event: consumers deduplicate by
 *   eventId (and ancillaries by the deterministic MSH-10 derived from it).
 * Each record is published in the trace context its row kept (the POST's span), so the
 * gateway's consumer span joins the EHR's request trace.
 *
 * Kicked after each commit that wrote events (orders go out at once) and every
 * `pollIntervalMs` (events left by a failed pass, another replica's, or a restart).
 */
import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { findTopic, type OrderEvent } from '@ancillary/contracts';
import { FhirStore, type OutboxLease, type OutboxRecord } from '@ancillary/fhir-store';
import {
  extractTraceContext,
  MessageProducer,
  PermanentError,
  readContext,
} from '@ancillary/messaging-kafka';
import { counter, describeError, gauge, histogram, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import { context } from '@opentelemetry/api';

export interface OrderOutboxRelayOptions {
  /** How often the outbox is looked at besides the kick after each order. Default 500 ms. */
  pollIntervalMs: number;
  /** Rows read per round trip. Default 100. */
  batchSize: number;
}

export const ORDER_OUTBOX_RELAY_OPTIONS = Symbol('ancillary.ehr-writer.order-outbox-relay');

/** Longest wait between attempts while Kafka refuses the events. */
const MAX_RETRY_DELAY_MS = 30_000;

const pending = gauge('ehr_writer_outbox_pending', 'Order events in the outbox not yet published.');
const relayActive = gauge(
  'ehr_writer_outbox_relay_active',
  '1 while this replica holds the outbox lease (publishes), 0 while it stands by.',
);
const ordersPlaced = counter(
  'ehr_writer_orders_placed_total',
  'Orders placed through the FHIR API (NEW events written), by category and lane.',
  ['category', 'lane'],
);
const ordersCancelled = counter(
  'ehr_writer_orders_cancelled_total',
  'Orders cancelled through the FHIR API (CANCEL events written), by category and lane.',
  ['category', 'lane'],
);
const published = counter(
  'ehr_writer_outbox_published_total',
  'Order events published from the outbox, by topic.',
  ['topic'],
);
const publishFailures = counter(
  'ehr_writer_outbox_publish_failures_total',
  'Publishes from the outbox that failed (the event stays and is retried), by topic.',
  ['topic'],
);
const outboxDelay = histogram(
  'ehr_writer_outbox_delay_seconds',
  'From an order event written to the outbox to Kafka acknowledging it.',
);

@Injectable()
export class OrderOutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private lease: OutboxLease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** After a failed publish, no pass before this time (ms); the wait doubles up to 30 s. */
  private retryAt = 0;
  private retryDelayMs = 0;

  constructor(
    private readonly store: FhirStore,
    private readonly producer: MessageProducer,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(ORDER_OUTBOX_RELAY_OPTIONS) private readonly options: OrderOutboxRelayOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.unsubscribe = this.store.onOutboxCommitted((events) => {
      for (const event of events) this.count(event);
      this.kick();
    });
    this.timer = setInterval(() => {
      this.kick();
    }, this.options.pollIntervalMs);
    this.timer.unref();
    this.kick();
  }

  /** Stops polling, lets the pass in hand finish, and gives the lease up for another replica. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    await this.running;
    await this.releaseLease();
  }

  /** Starts a pass, or asks the running one to go round again. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      this.again = false;
      await this.pass();
      if (!this.repeatAsked() || this.isStopped()) return;
    }
  }

  /** Read through calls: a kick or a shutdown sets these while a pass awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private repeatAsked(): boolean {
    return this.again;
  }

  private async pass(): Promise<void> {
    try {
      const lease = Date.now() >= this.retryAt ? await this.currentLease() : undefined;
      // Caught up without a failure: the next failure starts the back-off afresh.
      if (lease && (await this.publishAll(lease))) this.retryDelayMs = 0;
    } catch (error) {
      // The database failed under the lease: give it up; a later pass acquires it again.
      const retryInMs = this.backOff();
      this.logger.error({ retryInMs, ...describeError(error) }, 'outbox relay pass failed');
      await this.releaseLease();
    }
    try {
      pending.set(await this.store.outboxPending());
    } catch {
      // The gauge keeps its last value; the failure was logged above or will be next pass.
    }
  }

  /** Waits longer after each failure in a row (poll interval doubling up to 30 s). */
  private backOff(): number {
    this.retryDelayMs = Math.min(
      MAX_RETRY_DELAY_MS,
      Math.max(this.options.pollIntervalMs, this.retryDelayMs * 2),
    );
    this.retryAt = Date.now() + this.retryDelayMs;
    return this.retryDelayMs;
  }

  private async currentLease(): Promise<OutboxLease | undefined> {
    if (this.lease?.held) return this.lease;
    await this.releaseLease();
    this.lease = await this.store.acquireOutboxLease();
    relayActive.set(this.lease ? 1 : 0);
    if (this.lease) this.logger.info('outbox relay active: this replica publishes order events');
    return this.lease;
  }

  private async releaseLease(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    relayActive.set(0);
    await lease?.release();
  }

  /** Publishes until the outbox is empty (true) or a publish failed (false). */
  private async publishAll(lease: OutboxLease): Promise<boolean> {
    while (!this.isStopped()) {
      const rows = await lease.claim(this.options.batchSize);
      const done: string[] = [];
      let failed = false;
      for (const row of rows) {
        if (this.isStopped()) break;
        try {
          await this.publish(row);
          done.push(row.seq);
        } catch (error) {
          failed = true;
          publishFailures.inc({ topic: row.topic });
          const retryInMs = this.backOff();
          this.logger.error(
            {
              eventId: row.eventId,
              topic: row.topic,
              seq: row.seq,
              retryInMs,
              ...describeError(error),
            },
            'order event publish failed; it stays in the outbox and is retried',
          );
          break;
        }
      }
      await lease.markPublished(done);
      if (failed) return false;
      if (rows.length < this.options.batchSize) return true;
    }
    return true;
  }

  private async publish(row: OutboxRecord): Promise<void> {
    const topic = findTopic(row.topic);
    if (!topic) {
      throw new PermanentError(
        `outbox row ${row.seq} names topic ${row.topic}, which is not in the catalogue`,
      );
    }
    await context.with(extractTraceContext(row.headers), () =>
      this.producer.publish<OrderEvent>(topic, {
        key: row.key,
        value: row.payload as unknown as OrderEvent,
        context: readContext(row.headers),
      }),
    );
    published.inc({ topic: row.topic });
    outboxDelay.observe(Math.max(0, Date.now() - row.createdAt.getTime()) / 1000);
    this.logger.debug(
      { eventId: row.eventId, topic: row.topic, seq: row.seq },
      'order event published',
    );
  }

  private count(event: OrderEvent): void {
    const labels = { category: event.category, lane: event.lane };
    if (event.action === 'NEW') ordersPlaced.inc(labels);
    else ordersCancelled.inc(labels);
  }
}
