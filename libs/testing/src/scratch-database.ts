/**
 * A database of its own for one test file, on the stack's real PostgreSQL: created empty,
 * dropped afterwards (WITH FORCE), so tests never see each other's rows nor anyone else's in the
 * shared `ancillary` database.
 */
import { testStack } from './stack';
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';

export interface ScratchDatabase {
  name: string;
  url: string;
  /** Ends every pool handed out and drops the database. */
  drop(): Promise<void>;
  pool(maxConnections?: number): Pool;
}

export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const adminUrl = testStack().databaseUrl;
  const name = `ancillary_t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new Pool({ connectionString: adminUrl, max: 1 });
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pools: Pool[] = [];
  return {
    name,
    url: url.toString(),
    pool(maxConnections = 5) {
      const pool = new Pool({ connectionString: url.toString(), max: maxConnections });
      pool.on('error', () => undefined); // a dropped idle connection must not crash the test
      pools.push(pool);
      return pool;
    },
    async drop() {
      await Promise.all(pools.map((p) => p.end()));
      const dropper = new Pool({ connectionString: adminUrl, max: 1 });
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}
