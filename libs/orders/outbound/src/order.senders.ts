/**
 * The two ways an order reaches an ancillary — HL7 v2 over MLLP, or FHIR REST — behind one
 * shape: send, and say what the answer means (accepted, rejected, transient).
 */
import type { OrderEvent } from '@ancillary/contracts';
import { MllpError } from '@ancillary/hl7-mllp';
import type { MllpLogger } from '@ancillary/hl7-mllp';
import type { Terminology } from '@ancillary/terminology';
import type { FhirOrderTransportConfig, MllpOrderTransportOptions } from './order-outbound.config';
import { classifyOrderAck, type AckPolicy } from './order-ack.classifier';
import { buildOrderMessage, OrderEncodingError } from './order-message.builder';
import { OrderDispatcher, type OrderLane } from './order.dispatcher';
import { FhirOrderTransport } from './fhir-order.transport';
import { toFhirMedicationRequest } from './fhir-medication-request.mapper';

/** The answer to one order, whatever carried it. */
export interface OrderDelivery {
  outcome: 'accepted' | 'rejected' | 'transient';
  /** MSA-1, or the HTTP status; null when nothing answered. */
  ackCode: string | null;
  reason: string | null;
  fillerOrderNumber: string | null;
}

export interface OrderSendContext {
  terminology: Terminology;
  facility: string;
  sendingApplication: string;
  sendingFacility: string;
  controlId: string;
  lane: OrderLane;
}

export interface OrderSender {
  /**
   * Sends one order. Throws UnmappedCodeError / OrderEncodingError when the order cannot be
   * expressed for this ancillary; everything the ancillary or the network does is an outcome.
   */
  deliver(order: OrderEvent, context: OrderSendContext): Promise<OrderDelivery>;
  /** Orders waiting for the connection (MLLP; always 0 for FHIR). */
  waiting(lane?: OrderLane): number;
  close(): Promise<void>;
}

export class MllpOrderSender implements OrderSender {
  private readonly dispatcher: OrderDispatcher;

  constructor(
    private readonly options: MllpOrderTransportOptions,
    destination: string,
    private readonly ackPolicy: Partial<AckPolicy>,
    logger?: MllpLogger,
  ) {
    this.dispatcher = new OrderDispatcher({
      destination,
      host: options.host,
      port: options.port,
      ackTimeoutMs: options.ackTimeoutMs,
      ...(options.connectTimeoutMs === undefined
        ? {}
        : { connectTimeoutMs: options.connectTimeoutMs }),
      ...(logger ? { logger } : {}),
    });
  }

  async deliver(order: OrderEvent, c: OrderSendContext): Promise<OrderDelivery> {
    const receiver = c.terminology.facility(c.facility);
    if (!receiver) {
      throw new OrderEncodingError(`facility ${c.facility} is not in facilities.csv`);
    }
    const message = buildOrderMessage(order, c.terminology, {
      format: this.options.format,
      version: this.options.version,
      facility: c.facility,
      sendingApplication: c.sendingApplication,
      sendingFacility: c.sendingFacility,
      receivingApplication: receiver.sendingApplication,
      receivingFacility: receiver.facility,
      controlId: c.controlId,
      now: new Date(),
    });
    let ack;
    try {
      ack = await this.dispatcher.send(message, c.lane);
    } catch (error) {
      if (error instanceof MllpError && !error.retriable) {
        // nothing was written: the message itself is unsendable
        throw new OrderEncodingError(`the order message cannot be sent: ${error.message}`);
      }
      return {
        outcome: 'transient',
        ackCode: null,
        reason: error instanceof Error ? error.message : String(error),
        fillerOrderNumber: null,
      };
    }
    const answer = classifyOrderAck(ack, this.ackPolicy);
    return {
      outcome: answer.outcome,
      ackCode: answer.ackCode || null,
      reason: answer.reason,
      fillerOrderNumber: answer.fillerOrderNumber,
    };
  }

  waiting(lane?: OrderLane): number {
    return this.dispatcher.waiting(lane);
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

export class FhirOrderSender implements OrderSender {
  private readonly transport: FhirOrderTransport;

  constructor(options: FhirOrderTransportConfig) {
    this.transport = new FhirOrderTransport({
      baseUrl: options.baseUrl,
      timeoutMs: options.timeoutMs,
    });
  }

  async deliver(order: OrderEvent, c: OrderSendContext): Promise<OrderDelivery> {
    if (order.category !== 'PHARMACY') {
      throw new OrderEncodingError(
        `a ${order.category} order cannot be sent as a FHIR MedicationRequest`,
      );
    }
    const resource = toFhirMedicationRequest(order, c.terminology, c.facility);
    const answer = await this.transport.send(order, resource, c.controlId);
    return {
      outcome: answer.outcome,
      ackCode: answer.status === null ? null : String(answer.status),
      reason: answer.reason,
      fillerOrderNumber: answer.fillerOrderNumber,
    };
  }

  waiting(): number {
    return 0;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
