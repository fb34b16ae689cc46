/**
 * The ehr-writer service: the clinical repository (PostgreSQL, FHIR resources as versioned
 * JSONB; migrations run at start-up) filled from the canonical topics, and its FHIR R4 API,
 * through which the EHR also registers patients and places and cancels orders. Orders are routed
 * with the terminology tables and published from the repository's outbox by OrderOutboxRelay.
 * Charges and the billing engine's answers become ChargeItems (charge-item.writer.ts).
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
  databaseEnvSchema,
  ianaTimeZone,
  port,
  positiveInt,
  type Environment,
} from '@ancillary/config';
import { createPool, databaseReadiness } from '@ancillary/database';
import { DEFAULT_MAX_BODY_BYTES, FhirApiModule } from '@ancillary/fhir-api';
import {
  DEFAULT_PLACER_ORDER_SYSTEM,
  FhirStore,
  terminologyOrderRouter,
} from '@ancillary/fhir-store';
import { MessagingModule } from '@ancillary/messaging-nest';
import { type Logger } from '@ancillary/observability';
import { ObservabilityModule, ReadinessRegistry } from '@ancillary/observability-nest';
import {
  consumerDefaultsFrom,
  kafkaServiceEnvSchema,
  messagingOptionsFrom,
  startFromEnv,
  type ServiceHandle,
  type StartFromEnvOptions,
} from '@ancillary/service-kit';
import { TerminologyStore } from '@ancillary/terminology';
import {
  TerminologyModule,
  terminologyEnvSchema,
  terminologyOptionsFrom,
} from '@ancillary/terminology-nest';
import type { Pool } from 'pg';
import { z } from 'zod';
import { ChargeItemWriter } from './charge-item.writer';
import { DispenseWriter } from './dispense.writer';
import { ImagingReportWriter } from './imaging-report.writer';
import { LabResultWriter } from './lab-result.writer';
import { OrderStatusWriter } from './order-status.writer';
import { ORDER_OUTBOX_RELAY_OPTIONS, OrderOutboxRelay } from './order-outbox.relay';

export const ehrWriterEnvSchema = kafkaServiceEnvSchema
  .extend(databaseEnvSchema.shape)
  .extend(terminologyEnvSchema.shape)
  .extend({
    SERVICE_NAME: z.string().min(1).default('ehr-writer'),
    HTTP_PORT: port.default(8083),
    CONSUMER_GROUP: z.string().min(1).default('ehr-writer'),
    DATABASE_MAX_CONNECTIONS: positiveInt.default(10),
    /** Public base URL of the FHIR API (fullUrl and paging links); default from the request. */
    FHIR_BASE_URL: z.url().optional(),
    /** Identifier system of the EHR's placer order numbers: results find the EHR's ServiceRequest by it. */
    PLACER_ORDER_SYSTEM: z.string().min(1).default(DEFAULT_PLACER_ORDER_SYSTEM),
    /** IANA zone in which dates without an offset are read (searches, indexes): the hospital's. */
    TIME_ZONE: ianaTimeZone.default('UTC'),
    /** Largest create/update body the FHIR API accepts (bytes); larger ones get 413. */
    FHIR_MAX_BODY_BYTES: positiveInt.default(DEFAULT_MAX_BODY_BYTES),
    /** How often the outbox relay looks for unpublished order events besides the kick per order. */
    OUTBOX_POLL_INTERVAL_MS: positiveInt.default(500),
    /** Outbox rows the relay reads per round trip. */
    OUTBOX_BATCH_SIZE: positiveInt.default(100),
  });

export type EhrWriterConfig = z.output<typeof ehrWriterEnvSchema>;

const POOL = Symbol('ancillary.ehr-writer.pool');

@Injectable()
class RepositoryLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(POOL) private readonly pool: Pool,
    private readonly store: FhirStore,
    private readonly readiness: ReadinessRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    this.readiness.add(databaseReadiness(this.pool));
    await this.store.migrate(); // before any consumer starts (they start at bootstrap)
  }

  /** After beforeApplicationShutdown, where the consumers finish the records in hand. */
  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

@Module({})
export class EhrWriterModule {
  static forRoot(config: EhrWriterConfig, logger: Logger): DynamicModule {
    const pool = createPool({
      databaseUrl: config.DATABASE_URL,
      maxConnections: config.DATABASE_MAX_CONNECTIONS,
      applicationName: config.SERVICE_NAME,
    });
    const store = new FhirStore(pool, {
      logger,
      placerOrderSystem: config.PLACER_ORDER_SYSTEM,
      timeZone: config.TIME_ZONE,
    });
    return {
      module: EhrWriterModule,
      imports: [
        ObservabilityModule.forRoot({ logger }),
        MessagingModule.forRoot({
          ...messagingOptionsFrom(config),
          groupId: config.CONSUMER_GROUP,
          consumer: consumerDefaultsFrom(config),
        }),
        TerminologyModule.forRoot(terminologyOptionsFrom(config, logger)),
        FhirApiModule.forRootAsync({
          inject: [TerminologyStore],
          useFactory: (terminology: TerminologyStore) => ({
            store,
            orders: { router: terminologyOrderRouter(terminology) },
            maxBodyBytes: config.FHIR_MAX_BODY_BYTES,
            ...(config.FHIR_BASE_URL ? { baseUrl: config.FHIR_BASE_URL } : {}),
          }),
        }),
      ],
      providers: [
        { provide: POOL, useValue: pool },
        { provide: FhirStore, useValue: store },
        {
          provide: ORDER_OUTBOX_RELAY_OPTIONS,
          useValue: {
            pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
            batchSize: config.OUTBOX_BATCH_SIZE,
          },
        },
        RepositoryLifecycle,
        OrderOutboxRelay,
        LabResultWriter,
        ImagingReportWriter,
        DispenseWriter,
        OrderStatusWriter,
        ChargeItemWriter,
      ],
    };
  }
}

export interface EhrWriterHandle extends ServiceHandle {
  config: EhrWriterConfig;
  /** http://host:port/fhir */
  fhirBaseUrl: string;
}

export async function startEhrWriter(
  env: Environment,
  options: StartFromEnvOptions = {},
): Promise<EhrWriterHandle> {
  // The FHIR API reads request bodies itself (its media types, size limit and OperationOutcomes).
  const handle = await startFromEnv(
    ehrWriterEnvSchema,
    env,
    (c, l) => EhrWriterModule.forRoot(c, l),
    { ...options, bodyParser: false },
  );
  return { ...handle, fhirBaseUrl: `${handle.url}/fhir` };
}
