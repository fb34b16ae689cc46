/**
 * The gateway's memory of what it has already stored, so that a sender resending a message
 * (same connection, same MSH-10, same bytes — because our ACK was lost) is acknowledged again
 * without a second copy on the topic. It lives in PostgreSQL so the window survives a restart
 * and is shared by the replicas behind one MLLP address.
 *
 * The identity includes a digest of the bytes (MSH-7 aside, which some senders restamp on a
 * resend): a sender that reuses a control id for a different message (it happens after LIS
 * restores) must not have that message swallowed.
 *
 * It is an optimisation of the topic, not the guarantee: downstream writers are idempotent by
 * event id, so when this store is unavailable the gateway publishes anyway (and counts it).
 */
import type { Pool } from 'pg';

export interface DedupeKey {
  sourceSystem: string;
  messageControlId: string;
  /** payloadDigest() of the frame: SHA-256 of its bytes without MSH-7, hex. */
  payloadDigest: string;
}

export interface DedupeRecord {
  envelopeId: string;
  firstReceivedAt: Date;
  timesSeen: number;
}

const MIGRATION = `
CREATE SCHEMA IF NOT EXISTS gateway;
CREATE TABLE IF NOT EXISTS gateway.received_message (
  source_system      text        NOT NULL,
  message_control_id text        NOT NULL,
  payload_digest     text        NOT NULL,
  envelope_id        text        NOT NULL,
  first_received_at  timestamptz NOT NULL,
  last_seen_at       timestamptz NOT NULL,
  times_seen         integer     NOT NULL DEFAULT 1,
  PRIMARY KEY (source_system, message_control_id, payload_digest)
);
CREATE INDEX IF NOT EXISTS received_message_first_received_at
  ON gateway.received_message (first_received_at);
`;

export class DedupeStore {
  constructor(
    private readonly pool: Pool,
    /** How long a message is remembered. */
    private readonly windowMs: number,
  ) {}

  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Replicas starting together must not race on CREATE (catalog unique violations).
      await client.query("SELECT pg_advisory_xact_lock(hashtext('gateway.received_message'))");
      await client.query(MIGRATION);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** The earlier receipt of this exact message within the window (and counts this one), if any. */
  async seen(key: DedupeKey, now = new Date()): Promise<DedupeRecord | undefined> {
    const { rows } = await this.pool.query<{
      envelope_id: string;
      first_received_at: Date;
      times_seen: number;
    }>(
      `UPDATE gateway.received_message
          SET last_seen_at = $4, times_seen = times_seen + 1
        WHERE source_system = $1 AND message_control_id = $2 AND payload_digest = $3
          AND first_received_at > $5
      RETURNING envelope_id, first_received_at, times_seen`,
      [
        key.sourceSystem,
        key.messageControlId,
        key.payloadDigest,
        now,
        new Date(now.getTime() - this.windowMs),
      ],
    );
    const row = rows[0];
    return row
      ? {
          envelopeId: row.envelope_id,
          firstReceivedAt: row.first_received_at,
          timesSeen: row.times_seen,
        }
      : undefined;
  }

  /** Records a message that is now stored on the topic. */
  async remember(key: DedupeKey, envelopeId: string, receivedAt: Date): Promise<void> {
    await this.pool.query(
      `INSERT INTO gateway.received_message
         (source_system, message_control_id, payload_digest, envelope_id, first_received_at, last_seen_at)
       VALUES ($1, $2, $3, $4, $5, $5)
       ON CONFLICT (source_system, message_control_id, payload_digest)
       DO UPDATE SET envelope_id = EXCLUDED.envelope_id,
                     first_received_at = EXCLUDED.first_received_at,
                     last_seen_at = EXCLUDED.last_seen_at,
                     times_seen = 1`,
      [key.sourceSystem, key.messageControlId, key.payloadDigest, envelopeId, receivedAt],
    );
  }

  /** Forgets receipts older than the window; returns how many rows went. */
  async prune(now = new Date()): Promise<number> {
    const result = await this.pool.query(
      'DELETE FROM gateway.received_message WHERE first_received_at <= $1',
      [new Date(now.getTime() - this.windowMs)],
    );
    return result.rowCount ?? 0;
  }
}
