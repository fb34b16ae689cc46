/**
 * The normalizer's pharmacy flow: dispenses reported over MLLP (RDS^O13 on
 * `pharmacy.hl7-inbound.v1`) or POSTed as FHIR (MedicationDispense on `pharmacy.fhir-inbound.v1`)
 * become MedicationDispensed events on `clinical.dispenses.v1` (NDC, RxNorm where the formulary
 * maps it), keyed by patient; the pharmacy's status messages (RRE^O12, ORR^O02, ORM^O01 SC)
 * become OrderStatusChanged events. Failures dead-letter to the inbound topic's `.dlt`.
 */
import { Injectable } from '@nestjs/common';
import {
  Topics,
  type MedicationDispensed,
  type RawFhirEnvelope,
  type RawHl7Envelope,
} from '@ancillary/contracts';
import { resultKey } from '@ancillary/lab-normalization';
import { ConsumeTopic } from '@ancillary/messaging-nest';
import type { ConsumedMessage } from '@ancillary/messaging-kafka';
import { counter } from '@ancillary/observability';
import { normalizeDispenseMessage, normalizeFhirDispense } from '@ancillary/order-normalization';
import { NormalizationFlow, NormalizerContext } from './normalization.flow';

const dispenses = counter(
  'normalizer_dispenses_total',
  'MedicationDispensed events produced, by transport (hl7, fhir), status and whether RxNorm was mapped.',
  ['transport', 'status', 'rxnorm'],
);

@Injectable()
export class PharmacyNormalizerHandler extends NormalizationFlow {
  constructor(context: NormalizerContext) {
    super('pharmacy', context);
  }

  @ConsumeTopic(Topics.pharmacyHl7Inbound)
  async onHl7(envelope: RawHl7Envelope, record: ConsumedMessage<RawHl7Envelope>): Promise<void> {
    await this.routeHl7(envelope, record, 'RDS^O13', async (message, terminology) => {
      const events = this.mapped(envelope, () =>
        normalizeDispenseMessage(message, this.sourceOf(envelope), terminology, this.mapOptions),
      );
      await this.publishDispenses('hl7', events, record);
    });
  }

  @ConsumeTopic(Topics.pharmacyFhirInbound)
  async onFhir(envelope: RawFhirEnvelope, record: ConsumedMessage<RawFhirEnvelope>): Promise<void> {
    const ref = {
      sourceSystem: envelope.sourceSystem,
      envelopeId: envelope.envelopeId,
      idempotencyKey: envelope.idempotencyKey,
    };
    if (envelope.resourceType !== 'MedicationDispense') {
      this.fail(
        'unsupported-resource-type',
        `resource type ${envelope.resourceType} is not mapped by the pharmacy normalizer (it maps MedicationDispense)`,
        ref,
      );
    }
    const dispense = this.mapped(ref, () =>
      normalizeFhirDispense(envelope.payload, envelope, this.context.terminology.current, {
        facility: this.context.settings.pharmacyFhirFacility,
      }),
    );
    await this.publishDispenses('fhir', [dispense], record);
  }

  private async publishDispenses(
    transport: 'hl7' | 'fhir',
    events: readonly MedicationDispensed[],
    record: ConsumedMessage<unknown>,
  ): Promise<void> {
    await this.publish<MedicationDispensed>(Topics.clinicalDispenses, events, resultKey, record);
    for (const d of events) {
      dispenses.inc({ transport, status: d.status, rxnorm: String(d.rxnorm !== null) });
    }
  }
}
