/**
 * The transactional outbox (`fhir.outbox`, migration 3): events written in the same transaction
 * as the order they announce, published afterwards by one relay. Rows are read in `seq` order
 * and only rows not yet published are read, so a transaction that took a lower `seq` but
 * committed after a higher one is still published (later), never skipped.
 *
 * One relay publishes at a time: it holds a session-level advisory lock on its own connection
 * (an OutboxLease). When that connection drops, PostgreSQL releases the lock and another replica
 * takes over; the lease notices and stops claiming.
 */
import type { Pool, PoolClient } from 'pg';
import { classifyDatabaseError } from '../errors';
import { advisoryLockKey } from '../ids';

/** One event waiting to be (or already) published. */
export interface OutboxRecord {
  /** Position in the outbox (a bigint, as text). */
  seq: string;
  eventId: string;
  /** Topic name, e.g. `clinical.orders.v1`. */
  topic: string;
  key: string;
  /** The event value as JSON (timestamps as epoch milliseconds). */
  payload: Record<string, unknown>;
  /** Kafka headers to restore: W3C traceparent/tracestate of the request, correlation id. */
  headers: Record<string, string>;
  createdAt: Date;
}

/** The right to publish the outbox, held until released or until its connection drops. */
export interface OutboxLease {
  /** Unpublished rows in seq order, at most `limit`. */
  claim(limit: number): Promise<OutboxRecord[]>;
  markPublished(seqs: readonly string[]): Promise<void>;
  /** False once the lease's connection failed: release it and acquire a new one. */
  readonly held: boolean;
  /** Unlocks and returns (or, when broken, discards) the connection. Idempotent. */
  release(): Promise<void>;
}

export const OUTBOX_LOCK_KEY = advisoryLockKey('fhir.outbox.relay');

interface OutboxRow {
  seq: string;
  event_id: string;
  topic: string;
  message_key: string;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
  created_at: Date;
}

type Queryable = Pick<Pool, 'query'> | Pick<PoolClient, 'query'>;

export async function claimOutbox(db: Queryable, limit: number): Promise<OutboxRecord[]> {
  const { rows } = await db.query<OutboxRow>(
    `SELECT seq::text AS seq, event_id, topic, message_key, payload, headers, created_at
     FROM fhir.outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1`,
    [Math.max(1, Math.floor(limit))],
  );
  return rows.map((r) => ({
    seq: r.seq,
    eventId: r.event_id,
    topic: r.topic,
    key: r.message_key,
    payload: r.payload,
    headers: r.headers,
    createdAt: r.created_at,
  }));
}

export async function markOutboxPublished(db: Queryable, seqs: readonly string[]): Promise<void> {
  if (seqs.length === 0) return;
  await db.query(
    'UPDATE fhir.outbox SET published_at = now() WHERE seq = ANY($1::bigint[]) AND published_at IS NULL',
    [seqs],
  );
}

export async function outboxPending(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM fhir.outbox WHERE published_at IS NULL',
  );
  return rows[0]?.n ?? 0;
}

/** The outbox lease, or undefined when another relay holds it. */
export async function acquireOutboxLease(pool: Pool): Promise<OutboxLease | undefined> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw classifyDatabaseError(error, 'acquiring the outbox lease: no database connection');
  }
  let broken = false;
  const onError = (): void => {
    broken = true;
  };
  client.on('error', onError);
  const guard = async <T>(doing: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      const classified = classifyDatabaseError(error, doing);
      // Any failure on the lease's connection may have cost the lock: stop trusting it.
      broken = true;
      throw classified;
    }
  };
  let locked: boolean;
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_lock(${OUTBOX_LOCK_KEY.toString()}) AS locked`,
    );
    locked = rows[0]?.locked === true;
  } catch (error) {
    client.off('error', onError);
    client.release(true);
    throw classifyDatabaseError(error, 'acquiring the outbox lease');
  }
  if (!locked) {
    client.off('error', onError);
    client.release();
    return undefined;
  }
  let released = false;
  return {
    get held() {
      return !broken && !released;
    },
    claim: (limit) => guard('claiming outbox rows', () => claimOutbox(client, limit)),
    markPublished: (seqs) =>
      guard('marking outbox rows published', () => markOutboxPublished(client, seqs)),
    async release() {
      if (released) return;
      released = true;
      if (!broken) {
        try {
          await client.query(`SELECT pg_advisory_unlock(${OUTBOX_LOCK_KEY.toString()})`);
        } catch {
          broken = true;
        }
      }
      client.off('error', onError);
      // A connection that may still hold the lock is closed, never handed to the pool.
      client.release(broken);
    },
  };
}
