/**
 * The environment every MLLP gateway app reads for its inbound listener, and its translation
 * into MllpGatewayModule options — so that lab, radiology and pharmacy gateways differ only in
 * their defaults (connection name, port, message types) and their topic, not in thirty lines
 * of copied schema.
 */
import { port, positiveInt } from '@ancillary/config';
import type { TopicDefinition } from '@ancillary/contracts';
import { z } from 'zod';
import type { MllpGatewayOptions } from './mllp-gateway.module';

export interface MllpGatewayEnvDefaults {
  /** Name of the connection, e.g. `ris-main`: lower case, digits and hyphens. */
  sourceSystem: string;
  mllpPort: number;
  /** MSH-9.1^MSH-9.2 values, e.g. `['ORU^R01', 'ORM^O01']`. */
  acceptedMessageTypes: readonly string[];
}

/** A comma-separated list of MSH-9.1^MSH-9.2 values. */
const messageTypeList = (defaults: readonly string[]) =>
  z
    .string()
    .default(defaults.join(','))
    .transform((s) =>
      s
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length > 0),
    )
    .refine((list) => list.every((t) => /^[A-Z0-9]{3}\^[A-Z0-9]{3}$/.test(t)), {
      message: 'expected a comma-separated list of MSH-9.1^MSH-9.2 values, e.g. ORU^R01,ORM^O01',
    });

/**
 * The inbound listener's variables with one gateway's defaults; `.extend()` a service schema
 * with its `.shape`.
 */
export function mllpGatewayEnvSchema(defaults: MllpGatewayEnvDefaults) {
  return z.object({
    /** The configured name of this connection: every envelope and record carries it. */
    SOURCE_SYSTEM: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/)
      .default(defaults.sourceSystem),
    /** Loopback unless told otherwise: MLLP carries PHI (deployments set 0.0.0.0 behind TLS/network policy). */
    MLLP_HOST: z.string().min(1).default('127.0.0.1'),
    MLLP_PORT: port.default(defaults.mllpPort),
    MLLP_MAX_CONNECTIONS: positiveInt.default(100),
    MLLP_FALLBACK_CHARSET: z.enum(['latin1', 'windows-1252', 'utf-8']).default('windows-1252'),
    /** Anything else is answered AR/CR with ERR 200. */
    ACCEPTED_MESSAGE_TYPES: messageTypeList(defaults.acceptedMessageTypes),
    /** The de-duplication window's store; unset = no de-duplication (downstream stays idempotent). */
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, { message: 'expected a postgres:// connection URL' })
      .optional(),
    DEDUPE_WINDOW_HOURS: positiveInt.default(72),
  });
}

export type MllpGatewayEnv = z.output<ReturnType<typeof mllpGatewayEnvSchema>>;

/** MllpGatewayModule options from the validated environment. */
export function mllpGatewayOptionsFrom(
  config: MllpGatewayEnv,
  topic: TopicDefinition,
): MllpGatewayOptions {
  return {
    sourceSystem: config.SOURCE_SYSTEM,
    topic,
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
  };
}
