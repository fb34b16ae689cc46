/**
 * The billing-trigger service (ADR 0004, issue #7): completed clinical work from the canonical
 * topics → exactly one charge event per billable unit on billing.charges.v1 (ChargeTrigger),
 * and, in a second consumer group of the same process, each charge event → DFT^P03 to the
 * billing engine (BillingSenderModule). Its state lives in the `billing` schema of the
 * platform's PostgreSQL, migrated at module init before any consumer starts. HTTP: /health,
 * /ready, /metrics, and /admin/charge-master (GET: the table in use; POST …/reload).
 */
import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import {
  BillingSenderModule,
  billingSenderEnvSchema,
  billingSenderOptionsFrom,
} from '@ancillary/billing-sender';
import {
  databaseEnvSchema,
  ianaTimeZone,
  port,
  positiveInt,
  type Environment,
} from '@ancillary/config';
import { createPool, databaseReadiness } from '@ancillary/database';
import { MessagingModule } from '@ancillary/messaging-nest';
import type { Logger } from '@ancillary/observability';
import { ObservabilityModule, ReadinessRegistry } from '@ancillary/observability-nest';
import {
  consumerDefaultsFrom,
  kafkaServiceEnvSchema,
  messagingOptionsFrom,
  startFromEnv,
  type ServiceHandle,
  type StartFromEnvOptions,
} from '@ancillary/service-kit';
import type { Pool } from 'pg';
import { z } from 'zod';
import { BillingStateStore } from './billing-state.repository';
import { BillingTriggerConsumers } from './billing-trigger.consumers';
import { ChargeMasterController, createChargeMasterStore } from './charge-master.controller';
import {
  BILLING_TRIGGER_SETTINGS,
  CHARGE_MASTER,
  ChargeTrigger,
  type BillingTriggerSettings,
} from './charge.trigger';

export const billingTriggerEnvSchema = kafkaServiceEnvSchema
  .extend(databaseEnvSchema.shape)
  .extend(billingSenderEnvSchema.shape)
  .extend({
    SERVICE_NAME: z.string().min(1).default('billing-trigger'),
    HTTP_PORT: port.default(8086),
    /** The charge decisions' group (completion and order topics); the sender's is `<SERVICE_NAME>-billing-sender`. */
    CONSUMER_GROUP: z.string().min(1).default('billing-trigger'),
    DATABASE_MAX_CONNECTIONS: positiveInt.default(6),
    /** Directory of charge-master.csv + manifest.json; default the library's data. */
    CHARGE_MASTER_DIR: z.string().min(1).optional(),
    /** The hospital's IANA zone: the calendar day a date of service falls on (price, charge key). */
    TIME_ZONE: ianaTimeZone.default('UTC'),
  });

export type BillingTriggerConfig = z.output<typeof billingTriggerEnvSchema>;

const POOL = Symbol('ancillary.billing-trigger.pool');

@Injectable()
class BillingStateLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(POOL) private readonly pool: Pool,
    private readonly store: BillingStateStore,
    private readonly readiness: ReadinessRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    this.readiness.add(databaseReadiness(this.pool));
    await this.store.migrate(); // before the consumers start (they start at bootstrap)
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

@Module({})
export class BillingTriggerModule {
  static forRoot(config: BillingTriggerConfig, logger: Logger): DynamicModule {
    const pool = createPool({
      databaseUrl: config.DATABASE_URL,
      maxConnections: config.DATABASE_MAX_CONNECTIONS,
      applicationName: config.SERVICE_NAME,
    });
    // Loaded at start: the service must not run without a valid charge master. Reloaded by
    // POST /admin/charge-master/reload (ChargeMasterController), counted and logged.
    const chargeMaster = createChargeMasterStore(config.CHARGE_MASTER_DIR, logger);
    const settings: BillingTriggerSettings = { timeZone: config.TIME_ZONE };
    return {
      module: BillingTriggerModule,
      imports: [
        ObservabilityModule.forRoot({ logger }),
        MessagingModule.forRoot({
          ...messagingOptionsFrom(config),
          groupId: config.CONSUMER_GROUP,
          consumer: consumerDefaultsFrom(config),
        }),
        BillingSenderModule.forRoot(billingSenderOptionsFrom(config)),
      ],
      controllers: [ChargeMasterController],
      providers: [
        { provide: POOL, useValue: pool },
        { provide: BillingStateStore, useValue: new BillingStateStore(pool) },
        { provide: CHARGE_MASTER, useValue: chargeMaster },
        { provide: BILLING_TRIGGER_SETTINGS, useValue: settings },
        BillingStateLifecycle,
        ChargeTrigger,
        BillingTriggerConsumers,
      ],
    };
  }
}

export interface BillingTriggerHandle extends ServiceHandle {
  config: BillingTriggerConfig;
}

export function startBillingTrigger(
  env: Environment,
  options: StartFromEnvOptions = {},
): Promise<BillingTriggerHandle> {
  return startFromEnv(
    billingTriggerEnvSchema,
    env,
    (c, l) => BillingTriggerModule.forRoot(c, l),
    options,
  );
}
