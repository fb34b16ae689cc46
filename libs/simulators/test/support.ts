/**
 * Test helpers for this library's own specs. The workspace's module boundaries do not let one
 * `type:testing` library import another (@ancillary/testing), so the few helpers these specs
 * need are here, doing what their @ancillary/testing namesakes do.
 */
import type { TopicDefinition, ValueContract } from '@ancillary/contracts';
import { createLogger, type Logger } from '@ancillary/observability';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { parseEnv } from 'node:util';

/** The running stack's endpoints, from the env file the Jest global setup (or stack.sh) writes. */
export function stackEndpoints(): { kafkaBrokers: string[]; registryUrl: string } {
  const source =
    process.env['ANCILLARY_STACK_ENV'] ??
    join(resolve(__dirname, '..', '..', '..'), '.stack', 'env');
  if (!existsSync(source)) {
    throw new Error(`No stack endpoints at ${source}: run \`npm run stack:up\` or \`npm test\``);
  }
  const env = parseEnv(readFileSync(source, 'utf8'));
  const brokers = env['KAFKA_BROKERS'];
  const registryUrl = env['SCHEMA_REGISTRY_URL'];
  if (!brokers || !registryUrl)
    throw new Error(`${source} lacks KAFKA_BROKERS or SCHEMA_REGISTRY_URL`);
  return { kafkaBrokers: brokers.split(','), registryUrl };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export function testTopic(value: ValueContract, partitions = 1): TopicDefinition {
  return {
    name: `${uniqueName('test')}.records.v1`.replace(/[^a-z0-9.-]/g, ''),
    description: 'test topic',
    value,
    key: 'test key',
    partitions,
    retentionMs: 60 * 60 * 1000,
  };
}

/** A real pino logger whose JSON lines are kept in memory. */
export function captureLogger(level = 'warn'): {
  logger: Logger;
  lines: () => Record<string, unknown>[];
} {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  return {
    logger: createLogger({ service: 'simulators-test', level, destination }),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Waits on a condition (never a fixed sleep); fails saying what it waited for. */
export async function waitFor<T>(
  condition: () => T | undefined | false | null,
  description: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = condition();
    if (result !== undefined && result !== false && result !== null) return result;
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
