/**
 * What every ancillary gateway service (lab, radiology, pharmacy, and the next one) is made of,
 * so that each service lib states only what is its own — defaults, inbound topic, extra
 * endpoints — and a new ancillary is a new set of defaults rather than a copy of a module:
 *
 * - the MLLP listener publishing to the connection's inbound topic (this lib);
 * - orders out (@ancillary/order-outbound): the order topics' events whose destination is this
 *   connection, sent to the ancillary, with the code-set tables they are mapped with
 *   (@ancillary/terminology-nest) — both only when ORDERS_ENABLED;
 * - Kafka (with the shared consumer defaults: the order consumers use them), health, readiness
 *   and metrics.
 */
import type { DynamicModule } from '@nestjs/common';
import { port, type Environment } from '@ancillary/config';
import type { TopicDefinition } from '@ancillary/contracts';
import { MessagingModule } from '@ancillary/messaging-nest';
import type { Logger } from '@ancillary/observability';
import { ObservabilityModule } from '@ancillary/observability-nest';
import {
  OrderOutboundModule,
  orderOutboundEnvSchemaFor,
  orderOutboundOptionsFrom,
  type OrderOutboundEnvDefaults,
} from '@ancillary/order-outbound';
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
import {
  mllpGatewayEnvSchema,
  mllpGatewayOptionsFrom,
  type MllpGatewayEnvDefaults,
} from './gateway-env';
import { MllpGatewayLifecycle, MllpGatewayModule } from './mllp-gateway.module';

export interface AncillaryGatewayDefaults {
  /** SERVICE_NAME default, e.g. `radiology-gateway` (also the order consumer groups' prefix). */
  serviceName: string;
  /** HTTP_PORT default: /health, /ready, /metrics, /admin/terminology. */
  httpPort: number;
  inbound: MllpGatewayEnvDefaults;
  orders: OrderOutboundEnvDefaults;
}

/** A gateway service's environment schema: the shared settings with this gateway's defaults. */
export function ancillaryGatewayEnvSchema(defaults: AncillaryGatewayDefaults) {
  return kafkaServiceEnvSchema
    .extend({
      SERVICE_NAME: z.string().min(1).default(defaults.serviceName),
      HTTP_PORT: port.default(defaults.httpPort),
    })
    .extend(mllpGatewayEnvSchema(defaults.inbound).shape)
    .extend(terminologyEnvSchema.shape)
    .extend(orderOutboundEnvSchemaFor(defaults.orders).shape);
}

export type AncillaryGatewayConfig = z.output<ReturnType<typeof ancillaryGatewayEnvSchema>>;

/**
 * The modules of a gateway service. Throws ConfigError (exit 78 from runMain) when orders are
 * enabled and a setting their transport needs is missing.
 */
export function ancillaryGatewayImports(
  config: AncillaryGatewayConfig,
  logger: Logger,
  inboundTopic: TopicDefinition,
): NonNullable<DynamicModule['imports']> {
  return [
    ObservabilityModule.forRoot({ logger }),
    MessagingModule.forRoot({
      ...messagingOptionsFrom(config),
      groupId: config.SERVICE_NAME,
      consumer: consumerDefaultsFrom(config),
    }),
    MllpGatewayModule.forRoot(mllpGatewayOptionsFrom(config, inboundTopic)),
    ...(config.ORDERS_ENABLED
      ? [
          TerminologyModule.forRoot(terminologyOptionsFrom(config, logger)),
          OrderOutboundModule.forRoot(orderOutboundOptionsFrom(config)),
        ]
      : []),
  ];
}

export interface AncillaryGatewayHandle<C> extends ServiceHandle {
  /** The bound MLLP inbound port (MLLP_PORT=0 picks a free one). */
  mllpPort: number;
  config: C;
}

/** Validates the environment, builds the gateway's module, listens (HTTP and MLLP). */
export async function startAncillaryGateway<S extends z.ZodType<AncillaryGatewayConfig>>(
  schema: S,
  env: Environment,
  module: (config: z.output<S>, logger: Logger) => DynamicModule,
  options: StartFromEnvOptions = {},
): Promise<AncillaryGatewayHandle<z.output<S>>> {
  const handle = await startFromEnv(schema, env, module, options);
  return { ...handle, mllpPort: handle.app.get(MllpGatewayLifecycle).port };
}
