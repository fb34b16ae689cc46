/**
 * Completed clinical work → charge events on billing.charges.v1 (ADR 0004 items 2–3).
 *
 * Each decision runs in one database transaction: lock the order and the charge key, load
 * the previous ChargeRecord and the OrderContext, decide with @ancillary/billing-pricing,
 * publish the lines (awaited: acknowledged by the broker), then save the record and commit.
 * A crash or a failed commit after publishing retries the record, which decides the same
 * lines with the same deterministic event and transaction ids; the sender de-duplicates them.
 *
 * Errors keep their classification: NoChargeDefinedError and UnbillableWorkError are
 * `retriable: false` (the messaging lib dead-letters the completion with the message);
 * database and broker failures are retried with backoff.
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  billableWork,
  chargeKeyFor,
  decideCharges,
  decideReversal,
  dispenseReversal,
  orderContext,
  type BillableWork,
  type ChargeRecord,
  type ReversalReason,
} from '@ancillary/billing-pricing';
import type { ChargeMasterStore } from '@ancillary/charge-master';
import {
  chargeRecordKey,
  Topics,
  type ChargeEvent,
  type ImagingReport,
  type LabResult,
  type MedicationDispensed,
  type OrderEvent,
} from '@ancillary/contracts';
import { type ConsumedMessage, MessageProducer } from '@ancillary/messaging-kafka';
import { counter, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import { type BillingStateTransaction, BillingStateStore } from './billing-state.repository';

export const BILLING_TRIGGER_SETTINGS = Symbol('ancillary.billing-trigger.settings');
export const CHARGE_MASTER = Symbol('ancillary.billing-trigger.charge-master');

export interface BillingTriggerSettings {
  /** IANA zone of the hospital: the calendar day of a date of service (price period, key). */
  timeZone: string;
  /** Default `() => new Date()`: FT1-5 posting date and createdAt. */
  now?: () => Date;
}

const chargesCreated = counter(
  'charges_created_total',
  'Charge events published to billing.charges.v1, by department and action (CHARGE, CREDIT).',
  ['department', 'action'],
);

const skipped = counter(
  'billing_skipped_total',
  'Completions and cancellations that produced no charge line, by source kind and reason.',
  ['kind', 'reason'],
);

/** Lock name of an order's work (taken before any charge key of it). */
const orderLock = (placerOrderNumber: string) => `order:${placerOrderNumber}`;

@Injectable()
export class ChargeTrigger {
  private readonly now: () => Date;

  constructor(
    private readonly store: BillingStateStore,
    private readonly producer: MessageProducer,
    @Inject(CHARGE_MASTER) private readonly chargeMaster: ChargeMasterStore,
    @Inject(BILLING_TRIGGER_SETTINGS) private readonly settings: BillingTriggerSettings,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.now = settings.now ?? (() => new Date());
  }

  onLabResult(result: LabResult, record: ConsumedMessage<unknown>): Promise<void> {
    return this.charge(billableWork(result, 'LAB'), 'LAB', result.eventId, record);
  }

  onImagingReport(report: ImagingReport, record: ConsumedMessage<unknown>): Promise<void> {
    return this.charge(billableWork(report, 'IMAGING'), 'IMAGING', report.eventId, record);
  }

  /** A completed dispense is charged; a CANCELLED / ENTERED_IN_ERROR one reverses its id's. */
  async onDispense(dispense: MedicationDispensed, record: ConsumedMessage<unknown>): Promise<void> {
    const reversal = dispenseReversal(dispense);
    if (!reversal) {
      await this.charge(billableWork(dispense, 'PHARMACY'), 'PHARMACY', dispense.eventId, record);
      return;
    }
    await this.store.transaction(async (tx) => {
      await tx.lock(reversal.chargeKey);
      const previous = await tx.chargeRecord(reversal.chargeKey);
      await this.reverse(tx, previous, reversal.reason, record, {
        chargeKey: reversal.chargeKey,
        sourceEventIds: [dispense.eventId],
        placerOrderNumber: dispense.placerOrderNumber,
        kind: 'PHARMACY',
      });
    });
  }

  /**
   * Folds the order event into the order's context; a CANCEL also reverses whatever was
   * charged for the order's work (each charge key of it, a CREDIT where a charge is open).
   */
  async onOrder(order: OrderEvent, record: ConsumedMessage<unknown>): Promise<void> {
    await this.store.transaction(async (tx) => {
      await tx.lock(orderLock(order.placerOrderNumber));
      const context = orderContext(order, await tx.orderContext(order.placerOrderNumber));
      await tx.saveOrderContext(context);
      if (order.action !== 'CANCEL') return;
      const records = await tx.chargeRecordsOfOrder(order.placerOrderNumber);
      for (const previous of records) {
        await this.reverse(tx, previous, 'order-cancelled', record, {
          sourceEventIds: [order.eventId],
          placerOrderNumber: order.placerOrderNumber,
          kind: previous.openCharge?.sourceKind ?? 'ORDER',
        });
      }
    });
  }

  private async charge(
    work: BillableWork | undefined,
    kind: string,
    sourceEventId: string,
    record: ConsumedMessage<unknown>,
  ): Promise<void> {
    if (!work) {
      skipped.inc({ kind, reason: 'not-billable' });
      this.logger.debug({ kind, sourceEventId }, 'completion not billable; skipped');
      return;
    }
    const cdm = this.chargeMaster.current; // one version of the table for the whole event
    const now = this.now();
    await this.store.transaction(async (tx) => {
      if (work.placerOrderNumber !== null) await tx.lock(orderLock(work.placerOrderNumber));
      const context =
        work.placerOrderNumber === null ? undefined : await tx.orderContext(work.placerOrderNumber);
      // Pricing first: a NoChargeDefinedError surfaces before anything is published.
      const options = { timeZone: this.settings.timeZone, now };
      const chargeKey = chargeKeyFor(work, cdm, options.timeZone);
      await tx.lock(chargeKey);
      const previous = await tx.chargeRecord(chargeKey);
      const decision = decideCharges(previous, work, context, cdm, options);
      await this.publish(tx, decision.lines, record);
      await tx.saveChargeRecord(decision.record, work.placerOrderNumber);
      if (decision.lines.length === 0) {
        skipped.inc({ kind, reason: skipReason(decision.record, context?.cancelled ?? false) });
      }
      this.logger.info(
        {
          kind,
          sourceEventId,
          chargeKey,
          status: work.status,
          lines: decision.lines.map((l) => `${l.action}:${l.transactionId}`),
          chargeMasterVersion: cdm.version,
        },
        decision.lines.length > 0 ? 'charge lines published' : 'nothing to charge',
      );
    });
  }

  private async reverse(
    tx: BillingStateTransaction,
    previous: ChargeRecord | undefined,
    reason: ReversalReason,
    record: ConsumedMessage<unknown>,
    options: {
      chargeKey?: string;
      sourceEventIds: readonly string[];
      placerOrderNumber: string | null;
      kind: string;
    },
  ): Promise<void> {
    const decision = decideReversal(previous, reason, {
      now: this.now(),
      sourceEventIds: options.sourceEventIds,
      ...(options.chargeKey !== undefined ? { chargeKey: options.chargeKey } : {}),
    });
    await this.publish(tx, decision.lines, record);
    if (decision.record) await tx.saveChargeRecord(decision.record, options.placerOrderNumber);
    if (decision.lines.length === 0) skipped.inc({ kind: options.kind, reason: 'nothing-open' });
    this.logger.info(
      {
        kind: options.kind,
        reason,
        chargeKey: decision.record?.chargeKey ?? options.chargeKey ?? null,
        lines: decision.lines.map((l) => `${l.action}:${l.transactionId}`),
      },
      decision.lines.length > 0 ? 'reversal published' : 'nothing to reverse',
    );
  }

  /** Reserves the ids, then publishes keyed by patient (awaited: the broker acknowledged). */
  private async publish(
    tx: BillingStateTransaction,
    lines: readonly ChargeEvent[],
    record: ConsumedMessage<unknown>,
  ): Promise<void> {
    if (lines.length === 0) return;
    await tx.reserveTransactionIds(lines);
    await this.producer.publishBatch<ChargeEvent>(
      Topics.billingCharges,
      lines.map((line) => ({
        key: chargeRecordKey(line),
        value: line,
        context: record.context,
      })),
    );
    for (const line of lines)
      chargesCreated.inc({ department: line.department, action: line.action });
  }
}

function skipReason(record: ChargeRecord, orderCancelled: boolean): string {
  if (orderCancelled) return 'order-cancelled';
  if (record.reversed) return 'reversed';
  return 'unchanged';
}
