/**
 * What a gateway does with one order event: keep it if it is for this ancillary, send it, tell
 * the EHR the answer (clinical.order-status.v1), and end the record the way the answer says —
 * committed (accepted), dead-lettered (rejected, unmappable) or retried (no usable answer).
 */
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Topics, type OrderEvent, type OrderStatusChanged } from '@ancillary/contracts';
import { type ConsumedMessage, MessageProducer } from '@ancillary/messaging-kafka';
import { counter, histogram, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import { TerminologyStore, UnmappedCodeError } from '@ancillary/terminology';
import { performance } from 'node:perf_hooks';
import { orderControlId } from './order-control-id';
import type { OrderOutboundOptions } from './order-outbound.config';
import {
  AncillaryUnavailableError,
  OrderRejectedError,
  OrderUnmappableError,
} from './order-outbound.errors';
import { OrderEncodingError } from './order-message.builder';
import type { OrderLane } from './order.dispatcher';
import {
  FhirOrderSender,
  MllpOrderSender,
  type OrderDelivery,
  type OrderSender,
} from './order.senders';

export const ORDER_OUTBOUND_OPTIONS = Symbol('ancillary.order-outbound.options');

const sent = counter(
  'orders_sent_total',
  'Order sends by outcome: accepted, rejected, transient (will be resent), unmappable.',
  ['destination', 'outcome'],
);
const sendSeconds = histogram(
  'order_send_seconds',
  'From handing an order to the transport to its answer (queueing for the connection included).',
  ['destination'],
);

@Injectable()
export class OrderOutboundService implements OnModuleInit, OnApplicationShutdown {
  private readonly sender: OrderSender;

  constructor(
    @Inject(ORDER_OUTBOUND_OPTIONS) private readonly options: OrderOutboundOptions,
    @Inject(TerminologyStore) private readonly terminology: TerminologyStore,
    @Inject(MessageProducer) private readonly producer: MessageProducer,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    const t = options.transport;
    this.sender =
      t.kind === 'fhir'
        ? new FhirOrderSender(t)
        : new MllpOrderSender(
            t,
            options.destination,
            options.ackPolicy ?? {},
            logger.child({ component: 'order-outbound', destination: options.destination }),
          );
  }

  /** A facility missing from the tables is a configuration error: refuse to start. */
  onModuleInit(): void {
    const { facility, destination, transport } = this.options;
    if (!this.terminology.current.facility(facility)) {
      throw new Error(
        `ORDERS_FACILITY ${facility} is not in the terminology's facilities.csv (${this.terminology.directory})`,
      );
    }
    this.logger.info(
      {
        destination,
        facility,
        transport: transport.kind,
        ...(transport.kind === 'mllp'
          ? {
              host: transport.host,
              port: transport.port,
              format: transport.format,
              version: transport.version,
            }
          : { baseUrl: transport.baseUrl }),
      },
      'order outbound ready',
    );
  }

  /** After the consumers have stopped (MessagingModule closes them before application shutdown). */
  async onApplicationShutdown(): Promise<void> {
    await this.sender.close();
  }

  /** Orders waiting for the connection to the ancillary (MLLP), in one lane or both. */
  waiting(lane?: OrderLane): number {
    return this.sender.waiting(lane);
  }

  /**
   * Handles one order event from the lane it was consumed in. Returns when the ancillary took
   * it (ACCEPTED, or CANCELLED for an accepted cancel, is published first). Throws
   * OrderRejectedError / OrderUnmappableError after publishing REJECTED (→ dead letter), or
   * AncillaryUnavailableError (→ the record is retried with backoff, the same control id resent).
   */
  async handle(
    order: OrderEvent,
    record: ConsumedMessage<OrderEvent>,
    lane: OrderLane,
  ): Promise<void> {
    const { destination } = this.options;
    if (order.destination !== destination) return; // another gateway's ancillary
    const controlId = orderControlId(order.eventId);
    const log = {
      destination,
      orderEventId: order.eventId,
      action: order.action,
      lane,
      messageControlId: controlId,
      attempt: record.attempt,
    };
    const started = performance.now();
    let delivery: OrderDelivery;
    try {
      delivery = await this.sender.deliver(order, {
        terminology: this.terminology.current,
        facility: this.options.facility,
        sendingApplication: this.options.sendingApplication,
        sendingFacility: this.options.sendingFacility,
        controlId,
        lane,
      });
    } catch (error) {
      if (!(error instanceof UnmappedCodeError) && !(error instanceof OrderEncodingError)) {
        throw error;
      }
      sent.inc({ destination, outcome: 'unmappable' });
      this.logger.warn(
        { ...log, reason: error.message },
        'order cannot be expressed for the ancillary: REJECTED, dead-lettering',
      );
      await this.publishStatus(order, record, controlId, 'REJECTED', {
        outcome: 'rejected',
        ackCode: null,
        reason: error.message,
        fillerOrderNumber: null,
      });
      throw new OrderUnmappableError(error.message, { cause: error });
    }

    if (delivery.ackCode !== null) {
      sendSeconds.observe({ destination }, (performance.now() - started) / 1000);
    }
    sent.inc({ destination, outcome: delivery.outcome });
    switch (delivery.outcome) {
      case 'accepted': {
        const status = order.action === 'CANCEL' ? 'CANCELLED' : 'ACCEPTED';
        await this.publishStatus(order, record, controlId, status, delivery);
        this.logger.info({ ...log, ackCode: delivery.ackCode, status }, 'order accepted');
        return;
      }
      case 'rejected':
        this.logger.warn(
          { ...log, ackCode: delivery.ackCode, reason: delivery.reason },
          'order rejected by the ancillary: REJECTED, dead-lettering',
        );
        await this.publishStatus(order, record, controlId, 'REJECTED', delivery);
        throw new OrderRejectedError(destination, delivery.ackCode, delivery.reason);
      case 'transient':
        this.logger.warn(
          { ...log, ackCode: delivery.ackCode, reason: delivery.reason },
          'order not delivered: the ancillary gave no usable answer; will resend',
        );
        throw new AncillaryUnavailableError(
          `${destination} did not take the order${delivery.ackCode ? ` (${delivery.ackCode})` : ''}: ${delivery.reason ?? 'no reason given'}`,
        );
    }
  }

  private async publishStatus(
    order: OrderEvent,
    record: ConsumedMessage<OrderEvent>,
    controlId: string,
    status: 'ACCEPTED' | 'REJECTED' | 'CANCELLED',
    delivery: OrderDelivery,
  ): Promise<void> {
    const key = record.key ?? order.patient.identifiers[0]?.value ?? order.patientId;
    const value: OrderStatusChanged = {
      eventId: `${order.eventId}#${status}`,
      sourceSystem: this.options.destination,
      status,
      placerOrderNumber: order.placerOrderNumber,
      fillerOrderNumber: delivery.fillerOrderNumber ?? order.fillerOrderNumber,
      orderEventId: order.eventId,
      orderResourceType: order.resourceType,
      orderResourceId: order.resourceId,
      patientIdentifier: key,
      ackCode: delivery.ackCode,
      reason: delivery.reason,
      messageControlId: controlId,
      occurredAt: Date.now(),
    };
    await this.producer.publish<OrderStatusChanged>(Topics.clinicalOrderStatus, {
      key,
      value,
      context: {
        ...record.context,
        messageControlId: controlId,
        sourceSystem: this.options.destination,
      },
    });
  }
}
