/**
 * The normalizer's radiology flow: a RIS ORU^R01 from `radiology.hl7-inbound.v1` becomes one
 * ImagingReport per order group on `clinical.imaging-reports.v1` (CPT-coded, report text with its
 * line breaks, impression, Study Instance UID), keyed by patient; the RIS's status messages
 * (ORM^O01 with ORC-1 SC, ORR^O02) become OrderStatusChanged events on `clinical.order-status.v1`.
 * Failures (an unmapped procedure, a report without text…) dead-letter to
 * `radiology.hl7-inbound.v1.dlt` with the reason.
 */
import { Injectable } from '@nestjs/common';
import { Topics, type ImagingReport, type RawHl7Envelope } from '@ancillary/contracts';
import { resultKey } from '@ancillary/lab-normalization';
import { ConsumeTopic } from '@ancillary/messaging-nest';
import type { ConsumedMessage } from '@ancillary/messaging-kafka';
import { counter } from '@ancillary/observability';
import { normalizeImagingMessage } from '@ancillary/order-normalization';
import { NormalizationFlow, NormalizerContext } from './normalization.flow';

const reports = counter(
  'normalizer_imaging_reports_total',
  'ImagingReports produced, by result status and whether the order rules flag them high priority.',
  ['status', 'high_priority'],
);

@Injectable()
export class RadiologyNormalizerHandler extends NormalizationFlow {
  constructor(context: NormalizerContext) {
    super('radiology', context);
  }

  @ConsumeTopic(Topics.radiologyHl7Inbound)
  async onInbound(
    envelope: RawHl7Envelope,
    record: ConsumedMessage<RawHl7Envelope>,
  ): Promise<void> {
    await this.routeHl7(envelope, record, 'ORU^R01', async (message, terminology) => {
      const imagingReports = this.mapped(envelope, () =>
        normalizeImagingMessage(message, this.sourceOf(envelope), terminology, this.mapOptions),
      );
      await this.publish<ImagingReport>(
        Topics.clinicalImagingReports,
        imagingReports,
        resultKey,
        record,
      );
      for (const r of imagingReports) {
        reports.inc({ status: r.status, high_priority: String(r.highPriority) });
      }
    });
  }
}
