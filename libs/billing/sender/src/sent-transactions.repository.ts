/**
 * `billing.sent_transactions`: one row per FT1-2 transaction id the billing engine accepted
 * (AA / CA). It is what makes sending idempotent across replays of billing.charges.v1 and
 * redelivery after a crash: a charge whose transaction id is here is not sent again.
 *
 * A row is written only AFTER the engine accepted, never before: a crash between the ACK and
 * the insert resends the same DFT (same MSH-10, same FT1-2), which an engine de-duplicates by
 * control id (the simulator does, and HL7 v2.5 ch. 2.10.2 describes it for original mode);
 * recording first would lose the charge if the send then failed.
 */
import type { Pool } from 'pg';
import { SentTransactionsUnavailableError } from './billing-sender.errors';

export interface SentTransaction {
  /** FT1-2. */
  transactionId: string;
  chargeKey: string;
  /** The ChargeEvent's eventId. */
  eventId: string;
  /** MSA-1 of the acceptance (AA or CA). */
  ackCode: string;
  /** MSH-10 of the DFT^P03 that carried it. */
  controlId: string;
  sentAt: Date;
}

/** Arbitrary constant of this migration's advisory lock (instances starting together). */
const MIGRATION_LOCK = 7_004_004;

const MIGRATION = [
  'CREATE SCHEMA IF NOT EXISTS billing',
  `CREATE TABLE IF NOT EXISTS billing.sent_transactions (
     transaction_id text PRIMARY KEY,
     charge_key text NOT NULL,
     event_id text NOT NULL,
     ack_code text NOT NULL,
     control_id text NOT NULL,
     sent_at timestamptz NOT NULL DEFAULT now()
   )`,
];

interface Row {
  transaction_id: string;
  charge_key: string;
  event_id: string;
  ack_code: string;
  control_id: string;
  sent_at: Date;
}

export class SentTransactions {
  constructor(private readonly pool: Pool) {}

  /**
   * Creates the schema and table if they are missing. Idempotent; serialised by an advisory
   * lock because concurrent `CREATE … IF NOT EXISTS` can still collide in the catalogue.
   */
  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      for (const statement of MIGRATION) await client.query(statement);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** The accepted send of a transaction id, or null when it was never accepted. */
  async find(transactionId: string): Promise<SentTransaction | null> {
    const result = await this.query(
      'SELECT * FROM billing.sent_transactions WHERE transaction_id = $1',
      [transactionId],
      `reading transaction ${transactionId}`,
    );
    const row = result.rows[0] as Row | undefined;
    return row ? fromRow(row) : null;
  }

  /**
   * Records an accepted transaction. A row already there is left as it is (the first
   * acceptance is the one that counts); returns whether this call inserted it.
   */
  async record(sent: SentTransaction): Promise<boolean> {
    const result = await this.query(
      `INSERT INTO billing.sent_transactions
         (transaction_id, charge_key, event_id, ack_code, control_id, sent_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (transaction_id) DO NOTHING`,
      [sent.transactionId, sent.chargeKey, sent.eventId, sent.ackCode, sent.controlId, sent.sentAt],
      `recording transaction ${sent.transactionId}`,
    );
    return result.rowCount === 1;
  }

  private async query(
    text: string,
    values: unknown[],
    doing: string,
  ): Promise<{ rows: unknown[]; rowCount: number | null }> {
    try {
      return await this.pool.query(text, values);
    } catch (error) {
      // Every failure here is the database's (the statements are fixed): retry the record.
      throw new SentTransactionsUnavailableError(
        `billing.sent_transactions unavailable ${doing}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
}

function fromRow(row: Row): SentTransaction {
  return {
    transactionId: row.transaction_id,
    chargeKey: row.charge_key,
    eventId: row.event_id,
    ackCode: row.ack_code,
    controlId: row.control_id,
    sentAt: row.sent_at,
  };
}
