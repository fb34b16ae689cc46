/**
 * The outbound order settings a gateway reads from its environment, and their translation into
 * OrderOutboundModule options. A gateway `.extend()`s its schema with the `.shape` of
 * `orderOutboundEnvSchemaFor({ its defaults })` (or of `orderOutboundEnvSchema`).
 */
import { booleanFlag, ConfigError, port, positiveInt } from '@ancillary/config';
import type { AckCode } from '@ancillary/hl7-core';
import type { RetryPolicy } from '@ancillary/retry';
import { z } from 'zod';
import { DEFAULT_ACK_POLICY, type AckPolicy } from './order-ack.classifier';
import { ORDER_MESSAGE_FORMATS, type OrderMessageFormat } from './order-message.builder';

/** A gateway's defaults for the variables that differ between ancillaries. */
export interface OrderOutboundEnvDefaults {
  transport?: 'mllp' | 'fhir';
  mllpPort?: number;
  messageFormat?: OrderMessageFormat;
  hl7Version?: string;
  /** facilities.csv id whose tables map the codes, e.g. `NWH-LAB`. */
  facility?: string;
  fhirUrl?: string;
}

const ACK_CODES: readonly AckCode[] = ['AA', 'AE', 'AR', 'CA', 'CE', 'CR'];

const connectionName = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, {
  message: 'expected lower-case letters, digits and hyphens (a SOURCE_SYSTEM name)',
});

/** The schema, with one gateway's defaults. */
export function orderOutboundEnvSchemaFor(defaults: OrderOutboundEnvDefaults = {}) {
  return z.object({
    /** Consume the order topics and send orders to the ancillary (false: results only). */
    ORDERS_ENABLED: booleanFlag.default(true),
    /** OrderEvent `destination` this gateway sends; default its SOURCE_SYSTEM. */
    ORDER_DESTINATION: connectionName.optional(),
    ORDERS_TRANSPORT: z.enum(['mllp', 'fhir']).default(defaults.transport ?? 'mllp'),
    ORDERS_MLLP_HOST: z.string().min(1).default('127.0.0.1'),
    ORDERS_MLLP_PORT: port.optional().transform((v) => v ?? defaults.mllpPort),
    ORDERS_MESSAGE_FORMAT: z
      .enum(ORDER_MESSAGE_FORMATS)
      .default(defaults.messageFormat ?? 'ORM^O01'),
    ORDERS_HL7_VERSION: z
      .string()
      .regex(/^2\.[3-9](\.\d+)?$/, { message: 'expected an HL7 v2 version from 2.3, e.g. 2.5.1' })
      .default(defaults.hl7Version ?? '2.5.1'),
    /** How long to wait for the ancillary's answer (MLLP ACK, or the FHIR response). */
    ORDERS_ACK_TIMEOUT_MS: positiveInt.default(10_000),
    ORDERS_CONNECT_TIMEOUT_MS: positiveInt.default(5_000),
    ORDERS_FHIR_URL: z
      .url()
      .optional()
      .transform((v) => v ?? defaults.fhirUrl),
    /** MSH-3 / MSH-4 of the orders we send. */
    ORDERS_SENDING_APPLICATION: z.string().min(1).default('ANCILLARY-HUB'),
    ORDERS_SENDING_FACILITY: z.string().min(1).default('NWH'),
    /** facilities.csv id whose tables map codes outbound (and whose row gives MSH-5/MSH-6). */
    ORDERS_FACILITY: z
      .string()
      .min(1)
      .optional()
      .transform((v) => v ?? defaults.facility),
    /** MSA-1 codes that reject an order for good (REJECTED + dead letter); AE etc. are retried. */
    ORDERS_PERMANENT_ACK_CODES: z
      .string()
      .default(DEFAULT_ACK_POLICY.permanent.join(','))
      .transform((s) =>
        s
          .split(',')
          .map((c) => c.trim().toUpperCase())
          .filter((c) => c !== ''),
      )
      .refine(
        (codes) =>
          codes.every(
            (c) => ACK_CODES.includes(c as AckCode) && !DEFAULT_ACK_POLICY.accepted.includes(c),
          ),
        { message: 'expected a comma-separated list of AE, AR, CE, CR (HL7 table 0008)' },
      ),
    /** Consumer groups `<prefix>-orders` and `<prefix>-orders-stat`; default SERVICE_NAME. */
    ORDERS_CONSUMER_GROUP_PREFIX: z.string().min(1).optional(),
    /** Ceiling of the backoff between resends while the ancillary does not answer. */
    ORDERS_RETRY_MAX_DELAY_MS: positiveInt.min(500).default(30_000),
  });
}

/** The schema with generic defaults (ORM^O01, v2.5.1, MLLP; no port, facility or URL). */
export const orderOutboundEnvSchema = orderOutboundEnvSchemaFor();

export type OrderOutboundEnv = z.output<typeof orderOutboundEnvSchema>;

export interface MllpOrderTransportOptions {
  kind: 'mllp';
  host: string;
  port: number;
  format: OrderMessageFormat;
  version: string;
  ackTimeoutMs: number;
  connectTimeoutMs?: number;
}

export interface FhirOrderTransportConfig {
  kind: 'fhir';
  baseUrl: string;
  timeoutMs: number;
}

export interface OrderOutboundOptions {
  /** OrderEvent `destination` handled here (others are skipped); the status' sourceSystem. */
  destination: string;
  /** Consumer groups `<prefix>-orders` and `<prefix>-orders-stat`. */
  consumerGroupPrefix: string;
  /** facilities.csv id: its tables map the codes, its row names the receiver (MSH-5/6). */
  facility: string;
  sendingApplication: string;
  sendingFacility: string;
  transport: MllpOrderTransportOptions | FhirOrderTransportConfig;
  ackPolicy?: Partial<AckPolicy>;
  /** Over the default `{ maxAttempts: Infinity, initialDelayMs: 500, maxDelayMs: 30000 }`. */
  retry?: Partial<RetryPolicy>;
}

/**
 * Module options from the validated environment of a service that also has SERVICE_NAME and
 * SOURCE_SYSTEM. Throws ConfigError naming the variable that a transport needs and lacks.
 */
export function orderOutboundOptionsFrom(
  config: OrderOutboundEnv & { SERVICE_NAME: string; SOURCE_SYSTEM: string },
): OrderOutboundOptions {
  const problems: string[] = [];
  if (!config.ORDERS_FACILITY) {
    problems.push('ORDERS_FACILITY: required (the facilities.csv id of the ancillary)');
  }
  if (config.ORDERS_TRANSPORT === 'mllp' && config.ORDERS_MLLP_PORT === undefined) {
    problems.push('ORDERS_MLLP_PORT: required when ORDERS_TRANSPORT is mllp');
  }
  if (config.ORDERS_TRANSPORT === 'fhir' && !config.ORDERS_FHIR_URL) {
    problems.push('ORDERS_FHIR_URL: required when ORDERS_TRANSPORT is fhir');
  }
  if (config.ORDERS_MESSAGE_FORMAT === 'OML^O21' && !/^2\.[5-9]/.test(config.ORDERS_HL7_VERSION)) {
    problems.push('ORDERS_HL7_VERSION: OML^O21 needs 2.5 or later');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const permanent = config.ORDERS_PERMANENT_ACK_CODES;
  return {
    destination: config.ORDER_DESTINATION ?? config.SOURCE_SYSTEM,
    consumerGroupPrefix: config.ORDERS_CONSUMER_GROUP_PREFIX ?? config.SERVICE_NAME,
    facility: config.ORDERS_FACILITY ?? '',
    sendingApplication: config.ORDERS_SENDING_APPLICATION,
    sendingFacility: config.ORDERS_SENDING_FACILITY,
    transport:
      config.ORDERS_TRANSPORT === 'fhir'
        ? {
            kind: 'fhir',
            baseUrl: config.ORDERS_FHIR_URL ?? '',
            timeoutMs: config.ORDERS_ACK_TIMEOUT_MS,
          }
        : {
            kind: 'mllp',
            host: config.ORDERS_MLLP_HOST,
            port: config.ORDERS_MLLP_PORT ?? 0,
            format: config.ORDERS_MESSAGE_FORMAT,
            version: config.ORDERS_HL7_VERSION,
            ackTimeoutMs: config.ORDERS_ACK_TIMEOUT_MS,
            connectTimeoutMs: config.ORDERS_CONNECT_TIMEOUT_MS,
          },
    ackPolicy: {
      permanent,
      // AE and CE stay transient unless the gateway lists them as permanent.
      transient: ['AE', 'CE', 'AR', 'CR'].filter((c) => !permanent.includes(c)),
    },
    retry: { maxDelayMs: config.ORDERS_RETRY_MAX_DELAY_MS },
  };
}
