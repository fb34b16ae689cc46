/**
 * The normalizer's lab flow: a raw envelope from `lab.hl7-inbound.v1` becomes one canonical
 * LabResult per order group on `clinical.results.v1` (keyed by patient, so one patient's results
 * stay in order) and one CriticalAlert per panic value on `clinical.alerts.v1`; the LIS's order
 * status messages (ORM^O01 / OML^O21 with ORC-1 SC, ORR^O02 / ORL^O22) become OrderStatusChanged
 * events on `clinical.order-status.v1`. Failures dead-letter to `lab.hl7-inbound.v1.dlt`.
 */
import { Injectable } from '@nestjs/common';
import {
  Topics,
  type CriticalAlert,
  type LabResult,
  type RawHl7Envelope,
} from '@ancillary/contracts';
import { criticalAlerts, normalizeLabMessage, resultKey } from '@ancillary/lab-normalization';
import { ConsumeTopic } from '@ancillary/messaging-nest';
import type { ConsumedMessage } from '@ancillary/messaging-kafka';
import { counter } from '@ancillary/observability';
import type { Hl7Message } from '@ancillary/hl7-core';
import type { Terminology } from '@ancillary/terminology';
import { NormalizationFlow, NormalizerContext } from './normalization.flow';

const results = counter('normalizer_lab_results_total', 'LabResults produced, by result status.', [
  'status',
]);
const alerts = counter('normalizer_critical_alerts_total', 'Critical-value alerts raised.');

@Injectable()
export class LabNormalizerHandler extends NormalizationFlow {
  constructor(context: NormalizerContext) {
    super('lab', context);
  }

  @ConsumeTopic(Topics.labHl7Inbound)
  async onInbound(
    envelope: RawHl7Envelope,
    record: ConsumedMessage<RawHl7Envelope>,
  ): Promise<void> {
    await this.routeHl7(envelope, record, 'ORU^R01', async (message, terminology) => {
      const labResults = this.map(envelope, message, terminology);
      const raisedAt = Date.now();
      const criticals: CriticalAlert[] = labResults.flatMap((r) =>
        criticalAlerts(r, raisedAt, terminology),
      );
      await this.publish<LabResult>(Topics.clinicalResults, labResults, resultKey, record);
      if (criticals.length > 0) {
        await this.publish<CriticalAlert>(
          Topics.clinicalAlerts,
          criticals,
          (a) => a.patientIdentifier,
          record,
        );
        alerts.inc(criticals.length);
        this.context.logger.warn(
          {
            messageControlId: envelope.messageControlId,
            // Ids and codes only: the value and the reason's text are patient data.
            alerts: criticals.map((a) => ({
              alertId: a.alertId,
              loinc: a.loincCode,
              priority: a.priority,
              highPriority: a.highPriority,
            })),
          },
          'critical values: alerts raised',
        );
      }
      for (const r of labResults) results.inc({ status: r.status });
    });
  }

  /**
   * Maps, turning every content problem into a precise permanent error; then the order rules
   * (order-rules.csv) decide whether each result is high priority — a STAT or ASAP order's —
   * which its critical alerts carry too.
   */
  private map(
    envelope: RawHl7Envelope,
    message: Hl7Message,
    terminology: Terminology,
  ): LabResult[] {
    const mapped = this.mapped(envelope, () =>
      normalizeLabMessage(message, this.sourceOf(envelope), terminology, this.mapOptions),
    );
    return mapped.map((result) => ({
      ...result,
      highPriority: terminology.orderRule(result.order.priority).highPriorityResult,
    }));
  }
}
