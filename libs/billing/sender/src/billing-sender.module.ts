/**
 * The Nest side of the billing sender: one consumer group, `<prefix>-billing-sender`, on
 * `billing.charges.v1`, feeding BillingSenderService, with its own PostgreSQL pool for
 * `billing.sent_transactions` (migrated at module init, before the consumer starts).
 *
 * It retries without limit, like the order lanes: a charge is never dropped because the billing
 * engine is down; its record (and the patient's later charges behind it in the partition) waits
 * in Kafka and is resent with backoff.
 *
 * Needs, from the application: MessagingModule and ObservabilityModule (LOGGER,
 * ReadinessRegistry). Adds the database to readiness, not the engine: an engine outage is
 * what the retries are for.
 */
import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Topics, type ChargeEvent } from '@ancillary/contracts';
import { createPool, databaseReadiness } from '@ancillary/database';
import type { ConsumedMessage } from '@ancillary/messaging-kafka';
import { ConsumeTopic } from '@ancillary/messaging-nest';
import { ReadinessRegistry } from '@ancillary/observability-nest';
import type { RetryPolicy } from '@ancillary/retry';
import type { Pool } from 'pg';
import type { BillingSenderOptions } from './billing-sender.config';
import { BILLING_SENDER_OPTIONS, BillingSenderService } from './billing-sender.service';
import { SentTransactions } from './sent-transactions.repository';

/** Resend until the engine answers: from 0.5 s, doubling (full jitter), at most 30 s apart. */
export const BILLING_RETRY_POLICY: RetryPolicy = {
  maxAttempts: Number.POSITIVE_INFINITY,
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  multiplier: 2,
};

const BILLING_SENDER_POOL = Symbol('ancillary.billing-sender.pool');

@Injectable()
class SenderPoolLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(BILLING_SENDER_POOL) private readonly pool: Pool,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
  ) {}

  onModuleInit(): void {
    this.readiness.add(databaseReadiness(this.pool));
  }

  /** After the consumer has stopped and the service has closed its connection. */
  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

@Module({})
export class BillingSenderModule {
  static forRoot(options: BillingSenderOptions): DynamicModule {
    if (!options.enabled) return { module: BillingSenderModule };
    const retry: RetryPolicy = { ...BILLING_RETRY_POLICY, ...options.retry };
    const group = { groupId: `${options.consumerGroupPrefix}-billing-sender`, retry };

    // Defined per forRoot: the decorator carries this service's consumer group.
    @Injectable()
    class ChargeConsumer {
      constructor(@Inject(BillingSenderService) private readonly sender: BillingSenderService) {}

      @ConsumeTopic(Topics.billingCharges, group)
      onCharge(charge: ChargeEvent, record: ConsumedMessage<ChargeEvent>): Promise<void> {
        return this.sender.handle(charge, record);
      }
    }

    return {
      module: BillingSenderModule,
      providers: [
        { provide: BILLING_SENDER_OPTIONS, useValue: options },
        {
          provide: BILLING_SENDER_POOL,
          useFactory: () =>
            createPool({
              databaseUrl: options.databaseUrl,
              maxConnections: options.databaseMaxConnections ?? 4,
              applicationName: `${options.consumerGroupPrefix}-billing-sender`,
            }),
        },
        {
          provide: SentTransactions,
          inject: [BILLING_SENDER_POOL],
          useFactory: (pool: Pool) => new SentTransactions(pool),
        },
        SenderPoolLifecycle,
        BillingSenderService,
        ChargeConsumer,
      ],
      exports: [BillingSenderService, SentTransactions],
    };
  }
}
