/**
 * The ehr-writer service: the clinical repository (PostgreSQL, FHIR resources as versioned
 * JSONB; migrations run at start-up) filled from the canonical topics, and its FHIR R4 API.
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
import { FhirApiModule } from '@ancillary/fhir-api';
import { DEFAULT_PLACER_ORDER_SYSTEM, FhirStore } from '@ancillary/fhir-store';
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
import type { Pool } from 'pg';
import { z } from 'zod';
import { LabResultWriter } from './lab-result.writer';

export const ehrWriterEnvSchema = kafkaServiceEnvSchema.extend(databaseEnvSchema.shape).extend({
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
        FhirApiModule.forRoot({
          store,
          ...(config.FHIR_BASE_URL ? { baseUrl: config.FHIR_BASE_URL } : {}),
        }),
      ],
      providers: [
        { provide: POOL, useValue: pool },
        { provide: FhirStore, useValue: store },
        RepositoryLifecycle,
        LabResultWriter,
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
  const handle = await startFromEnv(
    ehrWriterEnvSchema,
    env,
    (c, l) => EhrWriterModule.forRoot(c, l),
    options,
  );
  return { ...handle, fhirBaseUrl: `${handle.url}/fhir` };
}
