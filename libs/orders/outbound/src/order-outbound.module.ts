/**
 * The Nest side of outbound orders: two consumer groups — the routine lane
 * (`clinical.orders.v1`, group `<prefix>-orders`) and the STAT lane (`clinical.orders-stat.v1`,
 * group `<prefix>-orders-stat`) — feeding one OrderOutboundService. Separate groups are what let
 * a STAT order overtake: the routine group may be waiting on the ancillary while the STAT group
 * reads on, and the dispatcher's priority queue sends the STAT order next.
 *
 * Both retry without limit: an order is never dropped because the ancillary was down; its
 * record (and the patient's later orders behind it in the partition) waits in Kafka.
 *
 * Needs, from the application: TerminologyStore (e.g. TerminologyModule from
 * @ancillary/terminology-nest), MessageProducer (MessagingModule) and LOGGER
 * (ObservabilityModule). Adds no readiness check: an unreachable ancillary must not take the
 * gateway out of service, its inbound side keeps working and orders simply wait.
 */
import { type DynamicModule, Inject, Injectable, Module } from '@nestjs/common';
import { Topics, type OrderEvent } from '@ancillary/contracts';
import type { ConsumedMessage } from '@ancillary/messaging-kafka';
import { ConsumeTopic } from '@ancillary/messaging-nest';
import type { RetryPolicy } from '@ancillary/retry';
import type { OrderOutboundOptions } from './order-outbound.config';
import { ORDER_OUTBOUND_OPTIONS, OrderOutboundService } from './order-outbound.service';

/** Resend until the ancillary answers: from 0.5 s, doubling (full jitter), at most 30 s apart. */
export const ORDER_RETRY_POLICY: RetryPolicy = {
  maxAttempts: Number.POSITIVE_INFINITY,
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  multiplier: 2,
};

@Module({})
export class OrderOutboundModule {
  static forRoot(options: OrderOutboundOptions): DynamicModule {
    const retry: RetryPolicy = { ...ORDER_RETRY_POLICY, ...options.retry };
    const routine = { groupId: `${options.consumerGroupPrefix}-orders`, retry };
    const stat = { groupId: `${options.consumerGroupPrefix}-orders-stat`, retry };

    // Defined per forRoot: the decorators carry this gateway's consumer groups.
    @Injectable()
    class OrderConsumers {
      constructor(@Inject(OrderOutboundService) private readonly outbound: OrderOutboundService) {}

      @ConsumeTopic(Topics.clinicalOrders, routine)
      onRoutine(order: OrderEvent, record: ConsumedMessage<OrderEvent>): Promise<void> {
        return this.outbound.handle(order, record, 'ROUTINE');
      }

      @ConsumeTopic(Topics.clinicalOrdersStat, stat)
      onStat(order: OrderEvent, record: ConsumedMessage<OrderEvent>): Promise<void> {
        return this.outbound.handle(order, record, 'STAT');
      }
    }

    return {
      module: OrderOutboundModule,
      providers: [
        { provide: ORDER_OUTBOUND_OPTIONS, useValue: options },
        OrderOutboundService,
        OrderConsumers,
      ],
      exports: [OrderOutboundService],
    };
  }
}
