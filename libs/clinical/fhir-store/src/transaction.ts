/**
 * A write transaction that first takes the advisory locks of the business keys it will touch.
 * Locks are taken in ascending key order, the same order in every transaction, so two writers
 * never wait on each other in a cycle; BEGIN and the locks go in one round trip.
 */
import type { Pool, PoolClient } from 'pg';
import { classifyDatabaseError, RepositoryUnavailableError } from './errors';
import { advisoryLockKey } from './ids';

export async function inLockedTransaction<T>(
  pool: Pool,
  lockNames: readonly string[],
  doing: string,
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw classifyDatabaseError(error, `${doing}: no database connection`);
  }
  const keys = [...new Set(lockNames.map((n) => advisoryLockKey(n)))].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  // Keys are 64-bit integers computed here, never text from a message: safe to inline, and
  // the simple-query protocol then carries BEGIN and every lock in one round trip.
  const begin = ['BEGIN', ...keys.map((k) => `SELECT pg_advisory_xact_lock(${k.toString()})`)];
  let broken = false;
  try {
    await client.query(begin.join(';\n'));
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    const classified = classifyDatabaseError(error, doing);
    broken = classified instanceof RepositoryUnavailableError;
    if (!broken) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
    }
    throw classified;
  } finally {
    // A connection that failed mid-transaction is discarded rather than handed to the next caller.
    client.release(broken);
  }
}
