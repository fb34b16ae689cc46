/**
 * The one MLLP connection to an ancillary, with a priority queue in front of it.
 *
 * MLLP is one message at a time per connection, so whatever is waiting for the connection is
 * a queue; the dispatcher makes it a priority queue: a STAT-lane order goes out before routine
 * orders that were waiting, and after the message already in flight. Within a lane the order is
 * first come, first served (the consumers keep each patient's orders in sequence upstream).
 *
 * Every send is ONE attempt (the client's `maxAttempts: 1`): retrying is the consumer's job,
 * with backoff and the record held in Kafka, so nothing waits in memory that a restart would
 * lose. An ACK of any code resolves the send (classifying it is the caller's business); no ACK
 * — refused or dropped connection, ACK timeout — rejects it with the client's MllpError.
 */
import type { Hl7Message } from '@ancillary/hl7-core';
import {
  MllpClient,
  MllpClientClosedError,
  MllpNackError,
  type MllpError,
  type MllpLogger,
  type MllpMetricsHooks,
} from '@ancillary/hl7-mllp';
import { gauge } from '@ancillary/observability';
import type * as tls from 'node:tls';

export type OrderLane = 'ROUTINE' | 'STAT';

export interface OrderDispatcherOptions {
  /** The ancillary connection's name (a metric label). */
  destination: string;
  host: string;
  port: number;
  /** How long to wait for the answer to one message. */
  ackTimeoutMs: number;
  /** Default 5 s: a host that does not answer SYN should not hold the STAT lane for long. */
  connectTimeoutMs?: number;
  tls?: tls.ConnectionOptions;
  logger?: MllpLogger;
  hooks?: MllpMetricsHooks;
}

interface Job {
  message: Hl7Message;
  resolve: (ack: Hl7Message) => void;
  reject: (error: MllpError) => void;
}

const waitingGauge = gauge(
  'orders_waiting',
  'Orders waiting for the connection to their ancillary, by lane (the one in flight excluded).',
  ['destination', 'lane'],
);

export class OrderDispatcher {
  private readonly client: MllpClient;
  private readonly queues: Record<OrderLane, Job[]> = { STAT: [], ROUTINE: [] };
  private inFlight = false;
  private closed = false;

  constructor(private readonly options: OrderDispatcherOptions) {
    this.client = new MllpClient({
      host: options.host,
      port: options.port,
      ackTimeoutMs: options.ackTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      retry: { maxAttempts: 1 },
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.hooks ? { hooks: options.hooks } : {}),
    });
    this.updateGauge();
  }

  /**
   * Sends one message in its lane's turn; resolves with the answer (any MSA-1), rejects with the
   * MllpError that kept it from being answered (MllpConnectionError, MllpTimeoutError,
   * MllpClientClosedError, MllpInvalidMessageError).
   */
  send(message: Hl7Message, lane: OrderLane): Promise<Hl7Message> {
    if (this.closed) {
      return Promise.reject(new MllpClientClosedError('the order dispatcher is closed'));
    }
    return new Promise<Hl7Message>((resolve, reject) => {
      this.queues[lane].push({ message, resolve, reject });
      this.updateGauge();
      this.pump();
    });
  }

  /** Messages waiting for the connection (the one in flight excluded), in one lane or both. */
  waiting(lane?: OrderLane): number {
    return lane ? this.queues[lane].length : this.queues.STAT.length + this.queues.ROUTINE.length;
  }

  /** Refuses new sends, fails the waiting ones (they were never written), closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of [...this.queues.STAT.splice(0), ...this.queues.ROUTINE.splice(0)]) {
      job.reject(
        new MllpClientClosedError('the order dispatcher closed before the order was sent'),
      );
    }
    this.updateGauge();
    await this.client.close();
  }

  private pump(): void {
    if (this.inFlight) return;
    const job = this.queues.STAT.shift() ?? this.queues.ROUTINE.shift();
    if (!job) return;
    this.inFlight = true;
    this.updateGauge();
    void this.client
      .send(job.message, { maxAttempts: 1, ackTimeoutMs: this.options.ackTimeoutMs })
      .then(
        (result) => {
          job.resolve(result.ack);
        },
        (error: unknown) => {
          // A negative ACK is an answer too: the caller's policy decides what it means.
          if (error instanceof MllpNackError) job.resolve(error.ack);
          else job.reject(error as MllpError);
        },
      )
      .finally(() => {
        this.inFlight = false;
        this.pump();
      });
  }

  private updateGauge(): void {
    for (const lane of ['STAT', 'ROUTINE'] as const) {
      waitingGauge.set({ destination: this.options.destination, lane }, this.queues[lane].length);
    }
  }
}
