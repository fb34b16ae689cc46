/**
 * Builds a service's configuration for a test the same way main.ts does — through
 * loadConfig() and the service's own schema — from the stack's endpoints plus overrides,
 * so tests exercise the real validation instead of hand-made config objects.
 */
import { loadConfig, type Environment } from '@ancillary/config';
import type { z } from 'zod';
import { testStack } from './stack';

export function testEnvironment(overrides: Environment = {}): Environment {
  const stack = testStack();
  return {
    SERVICE_NAME: 'test',
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    DATABASE_URL: stack.databaseUrl,
    ...overrides,
  };
}

export function testConfig<S extends z.ZodType>(
  schema: S,
  overrides: Environment = {},
): z.output<S> {
  return loadConfig(schema, testEnvironment(overrides));
}
