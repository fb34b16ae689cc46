/**
 * What the billing sender does with one charge event (ADR 0004 item 4): skip it if its
 * transaction was already accepted, else send it as one DFT^P03 over the one MLLP connection
 * to the billing engine, and end the record the way the answer says — recorded and committed
 * (AA / CA), dead-lettered with the engine's ERR text (AR, CE per configuration), or retried
 * with backoff while it waits in Kafka (no answer, refused, timeout, AE).
 *
 * Each answer is also published on billing.charge-status.v1 (BILLED / REJECTED), from which
 * the ehr-writer moves the ChargeItem's status. BILLED is published after the transaction is
 * recorded and again, with the same event id, when a replayed line is skipped as already sent:
 * a crash between recording and publishing loses no status.
 */
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { buildDftP03, dftControlId, DftBuildError } from '@ancillary/billing-dft';
import {
  chargeRecordKey,
  ReplayHeaders,
  Topics,
  type ChargeEvent,
  type ChargeStatusEvent,
} from '@ancillary/contracts';
import type { Hl7Message } from '@ancillary/hl7-core';
import { MllpError } from '@ancillary/hl7-mllp';
import { type ConsumedMessage, MessageProducer } from '@ancillary/messaging-kafka';
import { counter, histogram, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import { classifyOrderAck, OrderDispatcher } from '@ancillary/order-outbound';
import { performance } from 'node:perf_hooks';
import type { BillingSenderOptions } from './billing-sender.config';
import {
  BillingEngineUnavailableError,
  ChargeRejectedError,
  ChargeUnsendableError,
} from './billing-sender.errors';
import { SentTransactions } from './sent-transactions.repository';

export const BILLING_SENDER_OPTIONS = Symbol('ancillary.billing-sender.options');

const sentTotal = counter(
  'charges_sent_total',
  'Charge events handled by the billing sender, by FT1-13 department and outcome: accepted, ' +
    'rejected, transient (will be resent), unsendable, already-sent (skipped replay).',
  ['department', 'outcome'],
);
const sendSeconds = histogram(
  'charge_send_seconds',
  'From handing a DFT^P03 to the connection to the engine’s answer (queueing included).',
  ['department'],
);
const rejectedTotal = counter(
  'charges_rejected_total',
  'Charges the billing engine refused for good, by reason: MSA-1 and the ERR-3 error code ' +
    '(HL7 table 0357), e.g. AR:207, or "unsendable" for a charge no DFT^P03 can carry.',
  ['reason'],
);
const lagSeconds = histogram(
  'charge_lag_seconds',
  'Charge lag: posting time (the engine accepted) minus the date of service, by department.',
  ['department'],
  [60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86_400, 3 * 86_400, 7 * 86_400, 30 * 86_400],
);

@Injectable()
export class BillingSenderService implements OnModuleInit, OnApplicationShutdown {
  private readonly dispatcher: OrderDispatcher;

  constructor(
    @Inject(BILLING_SENDER_OPTIONS) private readonly options: BillingSenderOptions,
    @Inject(SentTransactions) private readonly sent: SentTransactions,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(MessageProducer) private readonly producer: MessageProducer,
  ) {
    // The orders' dispatcher: one connection, one message at a time, one attempt per send
    // (the consumer retries with the record held in Kafka). Charges use only its routine lane.
    this.dispatcher = new OrderDispatcher({
      destination: options.destination,
      host: options.host,
      port: options.port,
      ackTimeoutMs: options.ackTimeoutMs,
      ...(options.connectTimeoutMs === undefined
        ? {}
        : { connectTimeoutMs: options.connectTimeoutMs }),
      logger: logger.child({ component: 'billing-sender', destination: options.destination }),
    });
  }

  /** Before the consumers start (they start at bootstrap): the table must exist. */
  async onModuleInit(): Promise<void> {
    await this.sent.migrate();
    const o = this.options;
    this.logger.info(
      {
        destination: o.destination,
        host: o.host,
        port: o.port,
        version: o.version,
        reversalStyle: o.reversalStyle,
        receivingApplication: o.receivingApplication,
        receivingFacility: o.receivingFacility,
      },
      'billing sender ready',
    );
  }

  /** After the consumers have stopped (MessagingModule closes them before application shutdown). */
  async onApplicationShutdown(): Promise<void> {
    await this.dispatcher.close();
  }

  /** DFTs waiting for the connection to the engine (the one in flight excluded). */
  waiting(): number {
    return this.dispatcher.waiting();
  }

  /**
   * Handles one charge event. Returns when the engine accepted it and it is recorded, or when
   * it had been accepted before. Throws ChargeRejectedError / ChargeUnsendableError (→ dead
   * letter) or BillingEngineUnavailableError / SentTransactionsUnavailableError (→ retried).
   */
  async handle(charge: ChargeEvent, record: ConsumedMessage<ChargeEvent>): Promise<void> {
    const { department, transactionId } = charge;
    const log = {
      chargeEventId: charge.eventId,
      chargeKey: charge.chargeKey,
      transactionId,
      action: charge.action,
      department,
      attempt: record.attempt,
    };

    const previous = await this.sent.find(transactionId);
    if (previous) {
      if (previous.eventId !== charge.eventId) {
        sentTotal.inc({ department, outcome: 'unsendable' });
        rejectedTotal.inc({ reason: 'unsendable' });
        throw new ChargeUnsendableError(
          `transaction id ${transactionId} of ${charge.eventId} was already sent for ${previous.eventId}: two charges must not share an FT1-2`,
        );
      }
      await this.publishStatus(charge, record, {
        status: 'BILLED',
        ackCode: previous.ackCode,
        messageControlId: previous.controlId,
        decidedAt: previous.sentAt,
      });
      sentTotal.inc({ department, outcome: 'already-sent' });
      this.logger.info(
        { ...log, sentAt: previous.sentAt.toISOString(), messageControlId: previous.controlId },
        'charge already sent: skipped',
      );
      return;
    }

    let message: Hl7Message;
    try {
      message = buildDftP03([charge], {
        controlId: dftControlId([charge], replayGeneration(record)),
        version: this.options.version,
        reversalStyle: this.options.reversalStyle,
        sendingApplication: this.options.sendingApplication,
        sendingFacility: this.options.sendingFacility,
        receivingApplication: this.options.receivingApplication,
        receivingFacility: this.options.receivingFacility,
        now: new Date(),
      });
    } catch (error) {
      if (!(error instanceof DftBuildError)) throw error;
      throw await this.unsendable(charge, record, log, error.message, error);
    }
    const controlId = message.controlId;

    const started = performance.now();
    let ack: Hl7Message;
    try {
      ack = await this.dispatcher.send(message, 'ROUTINE');
    } catch (error) {
      if (error instanceof MllpError && !error.retriable) {
        // nothing was written: the message itself cannot be framed
        throw await this.unsendable(
          charge,
          record,
          log,
          `the DFT^P03 cannot be sent: ${error.message}`,
          error,
        );
      }
      const reason = error instanceof Error ? error.message : String(error);
      sentTotal.inc({ department, outcome: 'transient' });
      this.logger.warn(
        { ...log, messageControlId: controlId, reason },
        'charge not delivered: the billing engine gave no answer; will resend',
      );
      throw new BillingEngineUnavailableError(`billing engine did not answer: ${reason}`, {
        cause: error,
      });
    }
    sendSeconds.observe({ department }, (performance.now() - started) / 1000);

    const answer = classifyOrderAck(ack, this.options.ackPolicy ?? {});
    const answered = { ...log, messageControlId: controlId, ackCode: answer.ackCode };
    switch (answer.outcome) {
      case 'accepted': {
        const sentAt = new Date();
        // Recorded only now that the engine has it; a failure here retries the record and
        // resends the same MSH-10, which the engine answers from its de-duplication.
        await this.sent.record({
          transactionId,
          chargeKey: charge.chargeKey,
          eventId: charge.eventId,
          ackCode: answer.ackCode,
          controlId,
          sentAt,
        });
        sentTotal.inc({ department, outcome: 'accepted' });
        lagSeconds.observe(
          { department },
          Math.max(0, (sentAt.getTime() - charge.dateOfService) / 1000),
        );
        await this.publishStatus(charge, record, {
          status: 'BILLED',
          ackCode: answer.ackCode,
          messageControlId: controlId,
          decidedAt: sentAt,
        });
        this.logger.info(answered, 'charge accepted by the billing engine');
        return;
      }
      case 'rejected': {
        sentTotal.inc({ department, outcome: 'rejected' });
        const errorCode = ack.segment('ERR')?.get(3)?.trim();
        rejectedTotal.inc({
          reason: errorCode ? `${answer.ackCode}:${errorCode}` : answer.ackCode,
        });
        this.logger.warn(
          { ...answered, reason: answer.reason },
          'charge rejected by the billing engine: dead-lettering',
        );
        await this.publishStatus(charge, record, {
          status: 'REJECTED',
          ackCode: answer.ackCode,
          messageControlId: controlId,
          decidedAt: new Date(),
          reason: answer.reason,
        });
        throw new ChargeRejectedError(transactionId, answer.ackCode, answer.reason);
      }
      case 'transient':
        sentTotal.inc({ department, outcome: 'transient' });
        this.logger.warn(
          { ...answered, reason: answer.reason },
          'charge not taken: the billing engine asked for a resend; will resend',
        );
        throw new BillingEngineUnavailableError(
          `billing engine did not take transaction ${transactionId}${answer.ackCode ? ` (${answer.ackCode})` : ''}: ${answer.reason ?? 'no reason given'}`,
        );
    }
  }

  private async unsendable(
    charge: ChargeEvent,
    record: ConsumedMessage<ChargeEvent>,
    log: Record<string, unknown>,
    reason: string,
    cause: unknown,
  ): Promise<ChargeUnsendableError> {
    sentTotal.inc({ department: String(log['department']), outcome: 'unsendable' });
    rejectedTotal.inc({ reason: 'unsendable' });
    this.logger.warn({ ...log, reason }, 'charge cannot be sent as a DFT^P03: dead-lettering');
    await this.publishStatus(charge, record, {
      status: 'REJECTED',
      ackCode: null,
      messageControlId: null,
      decidedAt: new Date(),
      reason,
    });
    return new ChargeUnsendableError(reason, { cause });
  }

  /** One line's answer on billing.charge-status.v1, keyed like the charge (awaited: acks=all). */
  private async publishStatus(
    charge: ChargeEvent,
    record: ConsumedMessage<ChargeEvent>,
    answer: {
      status: ChargeStatusEvent['status'];
      ackCode: string | null;
      messageControlId: string | null;
      decidedAt: Date;
      reason?: string | null;
    },
  ): Promise<void> {
    const event: ChargeStatusEvent = {
      eventId: chargeStatusEventId(charge.eventId, answer.status, answer.messageControlId),
      chargeEventId: charge.eventId,
      transactionId: charge.transactionId,
      chargeKey: charge.chargeKey,
      action: charge.action,
      reversesEventId: charge.reversesEventId,
      status: answer.status,
      ackCode: answer.ackCode,
      reason: answer.reason ?? null,
      messageControlId: answer.messageControlId,
      decidedAt: answer.decidedAt.getTime(),
    };
    await this.producer.publish<ChargeStatusEvent>(Topics.billingChargeStatus, {
      key: chargeRecordKey(charge),
      value: event,
      context: record.context,
    });
  }
}

/**
 * How many times the record was replayed from the dead-letter topic (x-replay-count), 0 for an
 * original: each replay is a new DFT^P03 (new MSH-10) to the engine, a resend is the same one.
 */
export function replayGeneration(record: { headers: Record<string, string | undefined> }): number {
  const count = Number(record.headers[ReplayHeaders.replayCount] ?? '0');
  return Number.isInteger(count) && count > 0 ? count : 0;
}

/** Deterministic: the same answer to the same DFT^P03 is the same status event. */
export function chargeStatusEventId(
  chargeEventId: string,
  status: ChargeStatusEvent['status'],
  messageControlId: string | null,
): string {
  return `${chargeEventId}:${status}:${messageControlId ?? 'unsent'}`;
}
