import { testStack } from '@ancillary/testing';
import { createPool, databaseReadiness } from './database.pool';

describe('database pool and readiness (real PostgreSQL)', () => {
  it('is ready when the database answers', async () => {
    const pool = createPool({ databaseUrl: testStack().databaseUrl });
    try {
      await expect(databaseReadiness(pool).check()).resolves.toBeUndefined();
      const { rows } = await pool.query<{ db: string }>('SELECT current_database() AS db');
      expect(rows[0]?.db).toBe(new URL(testStack().databaseUrl).pathname.slice(1));
    } finally {
      await pool.end();
    }
  });

  it('is not ready, with a clear error, when nothing listens at the address', async () => {
    const url = new URL(testStack().databaseUrl);
    url.port = '1'; // nothing listens on port 1
    const pool = createPool({ databaseUrl: url.toString(), connectionTimeoutMs: 1_000 });
    try {
      await expect(databaseReadiness(pool).check()).rejects.toThrow(/ECONNREFUSED|connect/);
    } finally {
      await pool.end();
    }
  });
});
