/**
 * The charge decisions' subscriptions, all in the module's consumer group (CONSUMER_GROUP):
 * the completion topics the normalizer produces and the EHR's order topics (ADR 0004 item 2).
 * Each partition is handled in order, so one patient's events are decided one at a time.
 */
import { Injectable } from '@nestjs/common';
import {
  Topics,
  type ImagingReport,
  type LabResult,
  type MedicationDispensed,
  type OrderEvent,
} from '@ancillary/contracts';
import type { ConsumedMessage } from '@ancillary/messaging-kafka';
import { ConsumeTopic } from '@ancillary/messaging-nest';
import { ChargeTrigger } from './charge.trigger';

@Injectable()
export class BillingTriggerConsumers {
  constructor(private readonly trigger: ChargeTrigger) {}

  @ConsumeTopic(Topics.clinicalResults)
  onLabResult(result: LabResult, record: ConsumedMessage<LabResult>): Promise<void> {
    return this.trigger.onLabResult(result, record);
  }

  @ConsumeTopic(Topics.clinicalImagingReports)
  onImagingReport(report: ImagingReport, record: ConsumedMessage<ImagingReport>): Promise<void> {
    return this.trigger.onImagingReport(report, record);
  }

  @ConsumeTopic(Topics.clinicalDispenses)
  onDispense(
    dispense: MedicationDispensed,
    record: ConsumedMessage<MedicationDispensed>,
  ): Promise<void> {
    return this.trigger.onDispense(dispense, record);
  }

  @ConsumeTopic(Topics.clinicalOrders)
  onOrder(order: OrderEvent, record: ConsumedMessage<OrderEvent>): Promise<void> {
    return this.trigger.onOrder(order, record);
  }

  @ConsumeTopic(Topics.clinicalOrdersStat)
  onStatOrder(order: OrderEvent, record: ConsumedMessage<OrderEvent>): Promise<void> {
    return this.trigger.onOrder(order, record);
  }
}
