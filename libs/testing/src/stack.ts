/**
 * Where the real stack the integration tests talk to is. The Jest global setup
 * (tools/jest/global-setup.js) brings it up — testcontainers where a Docker engine answers,
 * tools/stack/stack.sh otherwise — and writes its addresses to an env file; tests read it here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';

export interface StackEndpoints {
  kafkaBrokers: string[];
  registryUrl: string;
  databaseUrl: string;
  /** The env file the endpoints were read from. */
  source: string;
}

export function workspaceRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'nx.json'))) {
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error('workspace root (nx.json) not found');
    dir = parent;
  }
  return dir;
}

/** The running stack's endpoints; fails with instructions when no stack was started. */
export function testStack(): StackEndpoints {
  const source = process.env['ANCILLARY_STACK_ENV'] ?? join(workspaceRoot(), '.stack', 'env');
  if (!existsSync(source)) {
    throw new Error(
      `No stack endpoints at ${source}: run the tests through \`npm test\` (its global setup starts the stack) ` +
        'or start it with `npm run stack:up`.',
    );
  }
  const env = parseEnv(readFileSync(source, 'utf8'));
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${source} does not define ${name}`);
    return value;
  };
  return {
    kafkaBrokers: need('KAFKA_BROKERS').split(','),
    registryUrl: need('SCHEMA_REGISTRY_URL'),
    databaseUrl: need('DATABASE_URL'),
    source,
  };
}
