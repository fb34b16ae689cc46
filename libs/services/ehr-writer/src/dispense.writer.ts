/**
 * The ehr-writer's pharmacy flow: each canonical MedicationDispensed (from RDS^O13 or a FHIR
 * MedicationDispense) is written to the clinical repository in one transaction (Patient and
 * MedicationDispense pointing at the EHR's MedicationRequest), idempotently by event id. The
 * first completed dispense of an order observes order-to-result latency.
 */
import { Inject, Injectable } from '@nestjs/common';
import { type MedicationDispensed, Topics } from '@ancillary/contracts';
import { FhirStore } from '@ancillary/fhir-store';
import { ConsumeTopic } from '@ancillary/messaging-nest';
import { counter, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import { observeOrderToResult } from './order-to-result.metric';

const writes = counter(
  'ehr_writer_dispenses_total',
  'MedicationDispensed events applied, by outcome and (for UNCHANGED) reason.',
  ['outcome', 'reason'],
);

@Injectable()
export class DispenseWriter {
  constructor(
    private readonly store: FhirStore,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @ConsumeTopic(Topics.clinicalDispenses)
  async onDispense(dispense: MedicationDispensed): Promise<void> {
    const receipt = await this.store.writeDispense(dispense);
    writes.inc({ outcome: receipt.outcome, reason: receipt.unchangedReason ?? '' });
    const orderToResultSeconds = observeOrderToResult('pharmacy', dispense.sourceSystem, receipt);
    this.logger.info(
      {
        eventId: dispense.eventId,
        sourceSystem: dispense.sourceSystem,
        ...(dispense.messageControlId ? { messageControlId: dispense.messageControlId } : {}),
        medicationDispenseId: receipt.medicationDispenseId,
        versionId: receipt.versionId,
        outcome: receipt.outcome,
        ...(receipt.unchangedReason ? { unchangedReason: receipt.unchangedReason } : {}),
        ...(receipt.order ? { order: `${receipt.order.resourceType}/${receipt.order.id}` } : {}),
        ...(orderToResultSeconds !== undefined ? { orderToResultSeconds } : {}),
      },
      'dispense written',
    );
  }
}
