/**
 * The ehr-writer's order-status flow: each OrderStatusChanged (an ancillary accepting or
 * rejecting an order, or a later status it sent) is applied to the EHR's ServiceRequest or
 * MedicationRequest, idempotently by event id. A status for an order the repository does not
 * have is a permanent error (UnknownOrderError): the consumer dead-letters it with the reason.
 */
import { Inject, Injectable } from '@nestjs/common';
import { type OrderStatusChanged, Topics } from '@ancillary/contracts';
import { FhirStore } from '@ancillary/fhir-store';
import { ConsumeTopic } from '@ancillary/messaging-nest';
import { counter, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';

const applied = counter(
  'ehr_writer_order_statuses_total',
  'OrderStatusChanged events applied, by status, outcome and (when not applied or unchanged) reason.',
  ['status', 'outcome', 'reason'],
);

@Injectable()
export class OrderStatusWriter {
  constructor(
    private readonly store: FhirStore,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @ConsumeTopic(Topics.clinicalOrderStatus)
  async onOrderStatus(event: OrderStatusChanged): Promise<void> {
    const receipt = await this.store.applyOrderStatus(event);
    applied.inc({
      status: event.status,
      outcome: receipt.outcome,
      reason: receipt.statusNotApplied ?? receipt.unchangedReason ?? '',
    });
    // The reason text is the ancillary's and may quote the order: it goes to the chart, not the log.
    this.logger.info(
      {
        eventId: event.eventId,
        sourceSystem: event.sourceSystem,
        ...(event.messageControlId ? { messageControlId: event.messageControlId } : {}),
        orderStatus: event.status,
        ...(event.ackCode ? { ackCode: event.ackCode } : {}),
        order: `${receipt.resourceType}/${receipt.resourceId}`,
        ...(receipt.status ? { fhirStatus: receipt.status } : {}),
        versionId: receipt.versionId,
        outcome: receipt.outcome,
        ...(receipt.unchangedReason ? { unchangedReason: receipt.unchangedReason } : {}),
        ...(receipt.statusNotApplied ? { statusNotApplied: receipt.statusNotApplied } : {}),
      },
      'order status applied',
    );
  }
}
