/**
 * The normalizer service: raw HL7 and FHIR from the gateways' inbound topics to canonical,
 * coded events — lab results and critical alerts, imaging reports, dispenses, order statuses.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { ianaTimeZone, port, type Environment } from '@ancillary/config';
import { MessagingModule } from '@ancillary/messaging-nest';
import type { Logger } from '@ancillary/observability';
import { ObservabilityModule } from '@ancillary/observability-nest';
import {
  consumerDefaultsFrom,
  kafkaServiceEnvSchema,
  messagingOptionsFrom,
  startFromEnv,
  type ServiceHandle,
  type StartFromEnvOptions,
} from '@ancillary/service-kit';
import {
  TerminologyModule,
  terminologyEnvSchema,
  terminologyOptionsFrom,
} from '@ancillary/terminology-nest';
import { z } from 'zod';
import { LabNormalizerHandler } from './lab-normalizer.handler';
import {
  NORMALIZER_SETTINGS,
  NormalizerContext,
  type NormalizerSettings,
} from './normalization.flow';
import { PharmacyNormalizerHandler } from './pharmacy-normalizer.handler';
import { RadiologyNormalizerHandler } from './radiology-normalizer.handler';

export const normalizerEnvSchema = kafkaServiceEnvSchema.extend(terminologyEnvSchema.shape).extend({
  SERVICE_NAME: z.string().min(1).default('normalizer'),
  HTTP_PORT: port.default(8082),
  /** One group for every flow: each inbound topic is its own subscription within it. */
  CONSUMER_GROUP: z.string().min(1).default('normalizer'),
  /** IANA zone of HL7 timestamps sent without an offset. */
  DEFAULT_TIME_ZONE: ianaTimeZone.default('UTC'),
  /** Terminology facility whose formulary maps the NDCs of FHIR MedicationDispenses. */
  PHARMACY_FHIR_FACILITY: z.string().min(1).default('NWH-RX'),
});

export type NormalizerConfig = z.output<typeof normalizerEnvSchema>;

@Module({})
export class NormalizerModule {
  static forRoot(config: NormalizerConfig, logger: Logger): DynamicModule {
    const settings: NormalizerSettings = {
      defaultTimeZone: config.DEFAULT_TIME_ZONE,
      pharmacyFhirFacility: config.PHARMACY_FHIR_FACILITY,
    };
    return {
      module: NormalizerModule,
      imports: [
        ObservabilityModule.forRoot({ logger }),
        TerminologyModule.forRoot(terminologyOptionsFrom(config, logger)),
        MessagingModule.forRoot({
          ...messagingOptionsFrom(config),
          groupId: config.CONSUMER_GROUP,
          consumer: consumerDefaultsFrom(config),
        }),
      ],
      providers: [
        { provide: NORMALIZER_SETTINGS, useValue: settings },
        NormalizerContext,
        LabNormalizerHandler,
        RadiologyNormalizerHandler,
        PharmacyNormalizerHandler,
      ],
    };
  }
}

export interface NormalizerHandle extends ServiceHandle {
  config: NormalizerConfig;
}

export function startNormalizer(
  env: Environment,
  options: StartFromEnvOptions = {},
): Promise<NormalizerHandle> {
  return startFromEnv(normalizerEnvSchema, env, (c, l) => NormalizerModule.forRoot(c, l), options);
}
