/**
 * PostgreSQL access for the services that keep state (the clinical repository, the billing
 * ledger). One pool per service, created from the validated DATABASE_URL, with bounded waits
 * so that a database outage turns into retriable errors instead of hung handlers.
 */
import type { ReadinessCheck } from '@ancillary/observability';
import { Pool, type PoolConfig } from 'pg';

export interface DatabaseOptions {
  databaseUrl: string;
  /** Connections per service instance. */
  maxConnections?: number;
  /** ms to wait for a free connection / a new connection before failing. */
  connectionTimeoutMs?: number;
  /** Per-statement limit, ms (server-side statement_timeout). */
  statementTimeoutMs?: number;
  applicationName?: string;
}

export function createPool(options: DatabaseOptions): Pool {
  const config: PoolConfig = {
    connectionString: options.databaseUrl,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    application_name: options.applicationName ?? 'ancillary-hub',
  };
  const pool = new Pool(config);
  // An idle client losing its connection (database restart) must not crash the process;
  // the pool replaces it and the next query reports the outage to its caller.
  pool.on('error', () => undefined);
  return pool;
}

/** Readiness: the database answers a trivial query within the pool's connection timeout. */
export function databaseReadiness(pool: Pool): ReadinessCheck {
  return {
    name: 'database',
    async check() {
      await pool.query('SELECT 1');
    },
  };
}
