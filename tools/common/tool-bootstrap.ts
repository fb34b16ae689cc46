/**
 * What every command-line tool of the workspace does first, written once: check the Node
 * version, load its configuration from the environment (npm scripts add `.stack/env` with
 * `node --env-file-if-exists`, so the local stack is found without exports; a deployment sets
 * the variables), build a logger that writes to stderr (stdout is the tool's output), build the
 * Messaging facade, and turn the outcome into an exit status.
 *
 * Exit statuses: 0 success; what `main` returns (1: the tool's own "something is wrong", e.g.
 * records failed or messages missing); 2 for a usage or configuration error, or whatever
 * `errorExitCode` says for an unexpected failure (infrastructure unreachable).
 */
import {
  assertSupportedNode,
  ConfigError,
  loadConfig,
  type kafkaEnvSchema,
} from '@ancillary/config';
import {
  AvroCodec,
  createKafka,
  Messaging,
  type MessagingOptions,
} from '@ancillary/messaging-kafka';
import { createLogger, type Logger } from '@ancillary/observability';
import type { Kafka } from 'kafkajs';
import type { z } from 'zod';

/** Exit status for a usage or configuration error. */
export const EXIT_USAGE = 2;

/** The operator's command line cannot be acted on; the message says how to fix it. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type KafkaEnv = z.output<typeof kafkaEnvSchema>;

export interface ToolContext<C> {
  config: C;
  logger: Logger;
}

/**
 * Checks the runtime and loads `schema` from the environment. ConfigError (a variable missing
 * or invalid, each named) ends the tool with EXIT_USAGE through runTool().
 */
export function bootstrapTool<S extends z.ZodType>(
  service: string,
  schema: S,
  options: { logLevel?: string } = {},
): ToolContext<z.output<S>> {
  assertSupportedNode();
  const config = loadConfig(schema);
  const logger = createLogger({
    service,
    level: options.logLevel ?? 'warn',
    // stderr: a tool's stdout is its result (JSON lines, tables) and must stay parseable.
    destination: process.stderr,
  });
  return { config, logger };
}

export interface ToolKafka {
  kafka: Kafka;
  codec: AvroCodec;
}

/**
 * A Kafka client and the registry codec, for tools that read, inspect or administer topics
 * but publish nothing (no producer is created, so nothing needs closing but what the tool
 * opens itself).
 */
export function toolKafka(service: string, config: KafkaEnv, logger: Logger): ToolKafka {
  return {
    kafka: createKafka(
      { clientId: config.KAFKA_CLIENT_ID ?? service, brokers: config.KAFKA_BROKERS },
      logger,
    ),
    codec: new AvroCodec({ registryUrl: config.SCHEMA_REGISTRY_URL, clientId: service }),
  };
}

/** The Messaging facade (with its idempotent producer) for a tool that publishes. */
export function toolMessaging(
  service: string,
  config: KafkaEnv,
  logger: Logger,
  options: Partial<Pick<MessagingOptions, 'kafka' | 'publishTimeoutMs'>> = {},
): Messaging {
  return new Messaging(
    {
      service,
      brokers: config.KAFKA_BROKERS,
      registryUrl: config.SCHEMA_REGISTRY_URL,
      ...options,
      kafka: {
        ...(config.KAFKA_CLIENT_ID !== undefined ? { clientId: config.KAFKA_CLIENT_ID } : {}),
        ...options.kafka,
      },
    },
    logger,
  );
}

export interface RunToolOptions {
  /** Printed before the error message, e.g. "provisioning failed". */
  failurePrefix?: string;
  /** Exit status for an error that is not a usage error; default 1. */
  errorExitCode?: number;
}

/**
 * Runs `main` and exits with the status it returns (0 when it returns nothing). Errors are
 * printed as one line on stderr — never a stack trace for an operator to decode.
 */
export function runTool(
  main: (() => Promise<number>) | (() => Promise<void>),
  options: RunToolOptions = {},
): void {
  main().then(
    (status: unknown) => process.exit(typeof status === 'number' ? status : 0),
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      const prefix = options.failurePrefix ? `${options.failurePrefix}: ` : '';
      console.error(`${prefix}${message}`);
      const usage = error instanceof UsageError || error instanceof ConfigError;
      process.exit(usage ? EXIT_USAGE : (options.errorExitCode ?? 1));
    },
  );
}
