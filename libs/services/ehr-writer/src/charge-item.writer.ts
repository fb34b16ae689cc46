/**
 * The ehr-writer's billing flow (ADR 0004 item 5): every charge line of billing.charges.v1
 * becomes or reverses a FHIR ChargeItem in the clinical repository, and every answer of the
 * billing engine on billing.charge-status.v1 moves its status (billable → billed, or aborted;
 * entered-in-error once a credit reversed it). The ehr-writer stays the chart's only writer.
 */
import { Inject, Injectable } from '@nestjs/common';
import { type ChargeEvent, type ChargeStatusEvent, Topics } from '@ancillary/contracts';
import { FhirStore } from '@ancillary/fhir-store';
import { ConsumeTopic } from '@ancillary/messaging-nest';
import { counter, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';

const writes = counter(
  'ehr_writer_charge_items_total',
  'Billing events applied to ChargeItems, by event (charge, credit, status) and the status after.',
  ['event', 'status'],
);

@Injectable()
export class ChargeItemWriter {
  constructor(
    private readonly store: FhirStore,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @ConsumeTopic(Topics.billingCharges)
  async onCharge(line: ChargeEvent): Promise<void> {
    const receipt = await this.store.writeCharge(line);
    const event = line.action === 'CREDIT' ? 'credit' : 'charge';
    writes.inc({ event, status: receipt.status ?? 'duplicate' });
    this.logger.info(
      {
        eventId: line.eventId,
        action: line.action,
        transactionId: line.transactionId,
        chargeKey: line.chargeKey,
        chargeItemId: receipt.chargeItemId,
        versionId: receipt.versionId,
        outcome: receipt.outcome,
        ...(receipt.status ? { status: receipt.status } : {}),
        ...(receipt.unchangedReason ? { unchangedReason: receipt.unchangedReason } : {}),
      },
      line.action === 'CREDIT' ? 'charge reversed in the chart' : 'charge item written',
    );
  }

  @ConsumeTopic(Topics.billingChargeStatus)
  async onChargeStatus(status: ChargeStatusEvent): Promise<void> {
    const receipt = await this.store.applyChargeStatus(status);
    writes.inc({ event: 'status', status: receipt.status ?? 'duplicate' });
    this.logger.info(
      {
        eventId: status.eventId,
        chargeEventId: status.chargeEventId,
        transactionId: status.transactionId,
        engineStatus: status.status,
        ackCode: status.ackCode,
        chargeItemId: receipt.chargeItemId,
        outcome: receipt.outcome,
        ...(receipt.status ? { status: receipt.status } : {}),
        ...(receipt.written === false ? { chargeItemWritten: false } : {}),
      },
      receipt.written === false
        ? 'charge status recorded; its ChargeItem is not written yet'
        : 'charge status applied',
    );
  }
}
