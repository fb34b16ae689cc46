/**
 * The lab gateway: the LIS connects here over MLLP and every ORU^R01 it sends is on
 * `lab.hl7-inbound.v1` before it is acknowledged. All behaviour lives in @ancillary/mllp-gateway;
 * this is the lab connection's configuration and wiring.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { port, positiveInt, type Environment } from '@ancillary/config';
import { Topics } from '@ancillary/contracts';
import { MllpGatewayLifecycle, MllpGatewayModule } from '@ancillary/mllp-gateway';
import { MessagingModule } from '@ancillary/messaging-nest';
import { type Logger } from '@ancillary/observability';
import { ObservabilityModule } from '@ancillary/observability-nest';
import {
  kafkaServiceEnvSchema,
  messagingOptionsFrom,
  startFromEnv,
  type ServiceHandle,
  type StartFromEnvOptions,
} from '@ancillary/service-kit';
import { z } from 'zod';

export const labGatewayEnvSchema = kafkaServiceEnvSchema.extend({
  SERVICE_NAME: z.string().min(1).default('lab-gateway'),
  HTTP_PORT: port.default(8081),
  /** The configured name of this LIS connection: every envelope and record carries it. */
  SOURCE_SYSTEM: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/)
    .default('lis-main'),
  /** Loopback unless told otherwise: MLLP carries PHI (deployments set 0.0.0.0 behind TLS/network policy). */
  MLLP_HOST: z.string().min(1).default('127.0.0.1'),
  MLLP_PORT: port.default(2575),
  MLLP_MAX_CONNECTIONS: positiveInt.default(100),
  MLLP_FALLBACK_CHARSET: z.enum(['latin1', 'windows-1252', 'utf-8']).default('windows-1252'),
  ACCEPTED_MESSAGE_TYPES: z
    .string()
    .default('ORU^R01')
    .transform((s) =>
      s
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length > 0),
    ),
  /** The de-duplication window's store; unset = no de-duplication (downstream stays idempotent). */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { message: 'expected a postgres:// connection URL' })
    .optional(),
  DEDUPE_WINDOW_HOURS: positiveInt.default(72),
});

export type LabGatewayConfig = z.output<typeof labGatewayEnvSchema>;

@Module({})
export class LabGatewayModule {
  static forRoot(config: LabGatewayConfig, logger: Logger): DynamicModule {
    return {
      module: LabGatewayModule,
      imports: [
        ObservabilityModule.forRoot({ logger }),
        MessagingModule.forRoot({
          ...messagingOptionsFrom(config),
          groupId: config.SERVICE_NAME, // no consumers: the gateway only produces
        }),
        MllpGatewayModule.forRoot({
          sourceSystem: config.SOURCE_SYSTEM,
          topic: Topics.labHl7Inbound,
          acceptedMessageTypes: config.ACCEPTED_MESSAGE_TYPES,
          mllp: {
            host: config.MLLP_HOST,
            port: config.MLLP_PORT,
            maxConnections: config.MLLP_MAX_CONNECTIONS,
            fallbackCharset: config.MLLP_FALLBACK_CHARSET,
          },
          ...(config.DATABASE_URL
            ? {
                dedupe: {
                  databaseUrl: config.DATABASE_URL,
                  windowMs: config.DEDUPE_WINDOW_HOURS * 3_600_000,
                },
              }
            : {}),
        }),
      ],
    };
  }
}

export interface LabGatewayHandle extends ServiceHandle {
  mllpPort: number;
  config: LabGatewayConfig;
}

export async function startLabGateway(
  env: Environment,
  options: StartFromEnvOptions = {},
): Promise<LabGatewayHandle> {
  const handle = await startFromEnv(
    labGatewayEnvSchema,
    env,
    (c, l) => LabGatewayModule.forRoot(c, l),
    options,
  );
  return { ...handle, mllpPort: handle.app.get(MllpGatewayLifecycle).port };
}
