/**
 * billing-trigger's state in the platform's PostgreSQL (schema `billing`, ADR 0004 item 3):
 *
 * - `billing.charge_records`: one row per charge key, the pricing library's `ChargeRecord` as
 *   JSONB, plus the placer order number of the work it charges (a cancellation finds the
 *   order's records by it).
 * - `billing.order_contexts`: the `OrderContext` per placer order number (ORC-2), folded from
 *   clinical.orders.v1 / clinical.orders-stat.v1.
 * - `billing.charge_transactions`: every FT1-2 transaction id issued, primary key — the
 *   transaction id is a 10-character hash of the event id (`transactionIdFor`), so two
 *   different events may, very rarely, collide; the key makes that fail loudly (dead letter)
 *   instead of the engine silently taking one charge for another.
 *
 * Work on one charge key is serialised inside a transaction by an advisory lock on the key
 * (`pg_advisory_xact_lock`), which also works before the key's row exists; an order's work
 * first takes its order's lock, so a completion and a cancellation of one order never
 * interleave (and locks are always taken order first, key second: no deadlock).
 */
import type { OrderContext, ChargeRecord } from '@ancillary/billing-pricing';
import type { ChargeEvent } from '@ancillary/contracts';
import { PermanentError } from '@ancillary/messaging-kafka';
import type { Pool, PoolClient } from 'pg';

/** Arbitrary constant of the migration's advisory lock (not the sender's 7_004_004). */
const MIGRATION_LOCK = 7_004_003;

/** Seed of the key hash used for per-key advisory locks (keeps them apart from other users). */
const LOCK_SEED = 7004;

const MIGRATION = [
  'CREATE SCHEMA IF NOT EXISTS billing',
  `CREATE TABLE IF NOT EXISTS billing.charge_records (
     charge_key text PRIMARY KEY,
     placer_order_number text,
     record jsonb NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE INDEX IF NOT EXISTS charge_records_placer_order_number
     ON billing.charge_records (placer_order_number)
     WHERE placer_order_number IS NOT NULL`,
  `CREATE TABLE IF NOT EXISTS billing.order_contexts (
     placer_order_number text PRIMARY KEY,
     context jsonb NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE TABLE IF NOT EXISTS billing.charge_transactions (
     transaction_id text PRIMARY KEY,
     event_id text NOT NULL UNIQUE,
     charge_key text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
];

/** Two different charge events derived the same FT1-2: never send either as the other. */
export class TransactionIdCollisionError extends PermanentError {
  override readonly code = 'TRANSACTION_ID_COLLISION';
  constructor(
    readonly transactionId: string,
    readonly eventId: string,
    readonly existingEventId: string,
  ) {
    super(
      `transaction id ${transactionId} of charge event ${eventId} is already used by ${existingEventId}`,
    );
  }
}

/** The statements of one billing transaction (a locked charge key or order). */
export class BillingStateTransaction {
  constructor(private readonly client: PoolClient) {}

  /** Serialises work on `key` until commit or rollback. */
  async lock(key: string): Promise<void> {
    await this.client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, $2))', [
      key,
      LOCK_SEED,
    ]);
  }

  async chargeRecord(chargeKey: string): Promise<ChargeRecord | undefined> {
    const result = await this.client.query<{ record: ChargeRecord }>(
      'SELECT record FROM billing.charge_records WHERE charge_key = $1 FOR UPDATE',
      [chargeKey],
    );
    return result.rows[0]?.record;
  }

  /** The records of an order's work (for a cancellation), locked, in key order. */
  async chargeRecordsOfOrder(placerOrderNumber: string): Promise<ChargeRecord[]> {
    const result = await this.client.query<{ record: ChargeRecord }>(
      `SELECT record FROM billing.charge_records WHERE placer_order_number = $1
       ORDER BY charge_key FOR UPDATE`,
      [placerOrderNumber],
    );
    return result.rows.map((r) => r.record);
  }

  async saveChargeRecord(record: ChargeRecord, placerOrderNumber: string | null): Promise<void> {
    await this.client.query(
      `INSERT INTO billing.charge_records (charge_key, placer_order_number, record, updated_at)
       VALUES ($1, $2, $3, now())
       ON CONFLICT (charge_key) DO UPDATE SET
         record = EXCLUDED.record,
         placer_order_number = COALESCE(EXCLUDED.placer_order_number, billing.charge_records.placer_order_number),
         updated_at = now()`,
      [record.chargeKey, placerOrderNumber, JSON.stringify(record)],
    );
  }

  /**
   * Reserves the lines' transaction ids. The same event again (a retry after a crash between
   * publishing and committing never got here, but a replayed decision may) is fine; another
   * event with the same id is a {@link TransactionIdCollisionError}.
   */
  async reserveTransactionIds(lines: readonly ChargeEvent[]): Promise<void> {
    for (const line of lines) {
      const inserted = await this.client.query(
        `INSERT INTO billing.charge_transactions (transaction_id, event_id, charge_key)
         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
        [line.transactionId, line.eventId, line.chargeKey],
      );
      if (inserted.rowCount === 1) continue;
      const existing = await this.client.query<{ event_id: string }>(
        'SELECT event_id FROM billing.charge_transactions WHERE transaction_id = $1',
        [line.transactionId],
      );
      const existingEventId = existing.rows[0]?.event_id;
      if (existingEventId !== line.eventId) {
        throw new TransactionIdCollisionError(
          line.transactionId,
          line.eventId,
          existingEventId ?? '(an event id conflict)',
        );
      }
    }
  }

  async orderContext(placerOrderNumber: string): Promise<OrderContext | undefined> {
    const result = await this.client.query<{ context: OrderContext }>(
      'SELECT context FROM billing.order_contexts WHERE placer_order_number = $1',
      [placerOrderNumber],
    );
    return result.rows[0]?.context;
  }

  async saveOrderContext(context: OrderContext): Promise<void> {
    await this.client.query(
      `INSERT INTO billing.order_contexts (placer_order_number, context, updated_at)
       VALUES ($1, $2, now())
       ON CONFLICT (placer_order_number) DO UPDATE SET context = EXCLUDED.context, updated_at = now()`,
      [context.placerOrderNumber, JSON.stringify(context)],
    );
  }
}

export class BillingStateStore {
  constructor(private readonly pool: Pool) {}

  /** Creates schema and tables when missing; idempotent, serialised across instances. */
  async migrate(): Promise<void> {
    await this.transaction(async (_tx, client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      for (const statement of MIGRATION) await client.query(statement);
    });
  }

  /**
   * Runs `work` in one database transaction: committed when it resolves, rolled back when it
   * throws (the error propagates unchanged, so its `retriable` decides retry or dead letter).
   */
  async transaction<T>(
    work: (tx: BillingStateTransaction, client: PoolClient) => Promise<T>,
  ): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(new BillingStateTransaction(client), client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
