/**
 * One typed configuration object per service, parsed from the environment once at boot.
 * Nothing else in the platform reads process.env: services call loadConfig() in main.ts and
 * pass the result down; tests build the same object with testConfig() (libs/testing).
 */
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Parses `env` with a zod object whose keys are the variable names. Fails with every
 * problem at once, each naming its variable, so a bad deployment is fixed in one go.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Environment = process.env,
): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = issue.path.length > 0 ? issue.path.join('.') : '(environment)';
      const received =
        issue.code === 'invalid_type' && env[variable] === undefined ? ' (not set)' : '';
      return `${variable}: ${issue.message}${received}`;
    }),
  );
}

/** A comma-separated list of host:port pairs. */
export const hostPortList = z
  .string()
  .min(1)
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b.length > 0),
  )
  .refine((list) => list.length > 0 && list.every((b) => /^[^\s:]+:\d{1,5}$/.test(b)), {
    message: 'expected a comma-separated list of host:port',
  });

export const port = z.coerce.number().int().min(0).max(65535);

export const positiveInt = z.coerce.number().int().positive();

/** "true"/"false"/"1"/"0" as a boolean (z.coerce.boolean would read "false" as true). */
export const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Settings every service has: identity, HTTP port for /health /ready /metrics, logging, tracing. */
export const serviceEnvSchema = z.object({
  SERVICE_NAME: z.string().min(1),
  HTTP_PORT: port.default(8080),
  HTTP_HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: logLevel.default('info'),
  /** OTLP/HTTP traces endpoint, e.g. http://otel-collector:4318/v1/traces; unset = no export. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
});

/** Kafka and schema registry connection settings. */
export const kafkaEnvSchema = z.object({
  KAFKA_BROKERS: hostPortList,
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  SCHEMA_REGISTRY_URL: z.url(),
});

/** An IANA time zone name, e.g. Europe/London (validated against the runtime's tz database). */
export const ianaTimeZone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'expected an IANA time zone, e.g. Europe/London');

/** The clinical repository. */
export const databaseEnvSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { message: 'expected a postgres:// connection URL' }),
});
