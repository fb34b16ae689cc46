/**
 * The simulated pharmacy system over MLLP: takes RDE^O11 for the drugs of its formulary
 * (formulary.csv, NWH-RX by default; by the NDC of RXE-2, the RxNorm or local code of RXO-1),
 * answers RRE^O12 with a prescription number as filler number, and dispenses each order with an
 * RDS^O13 v2.5.1 (see dispense.builder.ts). A drug outside its formulary is refused (AR,
 * ORC-1 UA).
 */
import type { Hl7Message } from '@ancillary/hl7-core';
import type { FormularyEntry } from '@ancillary/terminology';
import type { SimOrderRecord } from './ancillary-orders';
import { buildDispenseMessage, PHARMACISTS, resolveFormularyEntry } from './dispense.builder';
import {
  OrderReceivingAncillary,
  type MllpOrderSource,
  type OrderCheck,
  type OrderReceivingAncillaryOptions,
} from './order-receiving.ancillary';
import type { ReceivedOrderMessage } from './received-order.reader';

export type PharmacyAncillaryOptions = OrderReceivingAncillaryOptions;

export class PharmacyAncillary extends OrderReceivingAncillary<FormularyEntry> {
  constructor(options: PharmacyAncillaryOptions) {
    super(options, {
      kind: 'pharmacy',
      defaultFacility: 'NWH-RX',
      fillerPrefix: 'RX',
      acceptedTypes: ['RDE^O11'],
      version: '2.5.1',
    });
  }

  protected checkOrder(received: ReceivedOrderMessage, line: number): OrderCheck<FormularyEntry> {
    const codings = received.content.lines[line]?.codings ?? [];
    const entry = resolveFormularyEntry(this.terminology, this.facility, codings);
    if (entry) return { ok: true, detail: entry };
    const code = codings[0]?.code ?? '';
    return {
      ok: false,
      reason: code
        ? `Drug ${code} is not in the ${this.facility} formulary`
        : 'The order has no drug code (RXO-1 / RXE-2)',
      error: {
        hl7ErrorCode: code ? '103' : '101',
        segment: received.groups[line]?.rxe ? 'RXE' : 'RXO',
        field: received.groups[line]?.rxe ? 2 : 1,
      },
    };
  }

  protected buildResult(
    source: MllpOrderSource<FormularyEntry> & { readonly detail: FormularyEntry },
    order: SimOrderRecord,
    controlId: string,
    now: Date,
  ): Hl7Message {
    if (!order.fillerOrderNumber) throw new Error('order without its prescription number');
    return buildDispenseMessage({
      received: source.received,
      line: source.line,
      formulary: source.detail,
      prescriptionNumber: order.fillerOrderNumber,
      pharmacist: this.random.pick(PHARMACISTS),
      controlId,
      sendingApplication: this.sendingApplication,
      sendingFacility: this.facility,
      receivingApplication: this.receivingApplication,
      receivingFacility: this.receivingFacility,
      now,
    });
  }
}
