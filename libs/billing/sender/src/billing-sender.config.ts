/**
 * The billing sender's settings, read from the environment of the service that runs it
 * (billing-trigger), and their translation into BillingSenderModule options. A service
 * `.extend()`s its schema with `billingSenderEnvSchema.shape`.
 */
import { booleanFlag, databaseEnvSchema, port, positiveInt } from '@ancillary/config';
import {
  DFT_VERSIONS,
  REVERSAL_STYLES,
  type DftVersion,
  type ReversalStyle,
} from '@ancillary/billing-dft';
import { DEFAULT_ACK_POLICY, type AckPolicy } from '@ancillary/order-outbound';
import type { RetryPolicy } from '@ancillary/retry';
import { z } from 'zod';

/** The billing-engine simulator's port (`npm run sim:billing`), the default receiver. */
export const DEFAULT_BILLING_MLLP_PORT = 2593;

/** MSA-1 codes (HL7 table 0008) that may be declared permanent; AA / CA always accept. */
const CONFIGURABLE_ACK_CODES = ['AE', 'AR', 'CE', 'CR'] as const;

const hl7Name = z.string().min(1).max(227);

export const billingSenderEnvSchema = z.object({
  /** Consume billing.charges.v1 and send the charges to the billing engine. */
  BILLING_ENABLED: booleanFlag.default(true),
  BILLING_MLLP_HOST: z.string().min(1).default('127.0.0.1'),
  BILLING_MLLP_PORT: port.default(DEFAULT_BILLING_MLLP_PORT),
  /** MSH-12 of the DFT^P03, per receiver (v2.5 by default, ADR 0004). */
  BILLING_HL7_VERSION: z.enum(DFT_VERSIONS).default('2.5'),
  /** How the engine wants a reversal: a CD credit line, or a CG line with negative quantity. */
  BILLING_REVERSAL_STYLE: z.enum(REVERSAL_STYLES).default('credit'),
  /** How long to wait for the engine's ACK to one DFT^P03. */
  BILLING_ACK_TIMEOUT_MS: positiveInt.default(10_000),
  BILLING_CONNECT_TIMEOUT_MS: positiveInt.default(5_000),
  /** Ceiling of the backoff between resends while the engine gives no usable answer. */
  BILLING_RETRY_MAX_DELAY_MS: positiveInt.min(500).default(30_000),
  /** MSA-1 codes that reject a charge for good (dead letter); the others are retried. */
  BILLING_PERMANENT_ACK_CODES: z
    .string()
    .default(DEFAULT_ACK_POLICY.permanent.join(','))
    .transform((s) =>
      s
        .split(',')
        .map((c) => c.trim().toUpperCase())
        .filter((c) => c !== ''),
    )
    .refine(
      (codes) => codes.every((c) => (CONFIGURABLE_ACK_CODES as readonly string[]).includes(c)),
      { message: 'expected a comma-separated list of AE, AR, CE, CR (HL7 table 0008)' },
    ),
  /** MSH-3 / MSH-4 of the DFTs we send. */
  BILLING_SENDING_APPLICATION: hl7Name.default('ANCILLARY-HUB'),
  BILLING_SENDING_FACILITY: hl7Name.default('NWH'),
  /** MSH-5 / MSH-6: the billing engine (defaults: the simulator's). */
  BILLING_RECEIVING_APPLICATION: hl7Name.default('SIMBILL'),
  BILLING_RECEIVING_FACILITY: hl7Name.default('NWH-BILL'),
  /** Consumer group `<prefix>-billing-sender`; default SERVICE_NAME. */
  BILLING_CONSUMER_GROUP_PREFIX: z.string().min(1).optional(),
  /** Where billing.sent_transactions lives (the platform's PostgreSQL). */
  DATABASE_URL: databaseEnvSchema.shape.DATABASE_URL,
});

export type BillingSenderEnv = z.output<typeof billingSenderEnvSchema>;

export interface BillingSenderOptions {
  /** false: the module registers no consumer and opens no connection. */
  enabled: boolean;
  /** Consumer group `<prefix>-billing-sender`. */
  consumerGroupPrefix: string;
  /** The engine's name in metrics and logs (the dispatcher's destination label). */
  destination: string;
  host: string;
  port: number;
  ackTimeoutMs: number;
  connectTimeoutMs?: number;
  version: DftVersion;
  reversalStyle: ReversalStyle;
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  /** PostgreSQL holding billing.sent_transactions. */
  databaseUrl: string;
  /** Connections of the sender's pool; default 4. */
  databaseMaxConnections?: number;
  ackPolicy?: Partial<AckPolicy>;
  /** Over the default `{ maxAttempts: Infinity, initialDelayMs: 500, maxDelayMs: 30000 }`. */
  retry?: Partial<RetryPolicy>;
}

/** Module options from the validated environment (SERVICE_NAME names the consumer group). */
export function billingSenderOptionsFrom(
  config: BillingSenderEnv & { SERVICE_NAME?: string },
): BillingSenderOptions {
  const permanent = config.BILLING_PERMANENT_ACK_CODES;
  return {
    enabled: config.BILLING_ENABLED,
    consumerGroupPrefix:
      config.BILLING_CONSUMER_GROUP_PREFIX ?? config.SERVICE_NAME ?? 'billing-trigger',
    destination: 'billing',
    host: config.BILLING_MLLP_HOST,
    port: config.BILLING_MLLP_PORT,
    ackTimeoutMs: config.BILLING_ACK_TIMEOUT_MS,
    connectTimeoutMs: config.BILLING_CONNECT_TIMEOUT_MS,
    version: config.BILLING_HL7_VERSION,
    reversalStyle: config.BILLING_REVERSAL_STYLE,
    sendingApplication: config.BILLING_SENDING_APPLICATION,
    sendingFacility: config.BILLING_SENDING_FACILITY,
    receivingApplication: config.BILLING_RECEIVING_APPLICATION,
    receivingFacility: config.BILLING_RECEIVING_FACILITY,
    databaseUrl: config.DATABASE_URL,
    ackPolicy: {
      permanent,
      // Whatever is not declared permanent (AE by default) means "resend later".
      transient: CONFIGURABLE_ACK_CODES.filter((c) => !permanent.includes(c)),
    },
    retry: { maxDelayMs: config.BILLING_RETRY_MAX_DELAY_MS },
  };
}
