/**
 * Applies one OrderStatusChanged to the EHR's order in one transaction, idempotently (the steps
 * and guarantees of event-writer.ts; the mapping is order-status.mapper.ts). The order is the
 * resource the event names (orderResourceType/orderResourceId, set when the status answers one
 * of our OrderEvents), else the ServiceRequest or MedicationRequest carrying the placer order
 * number. An order the repository does not have is a permanent error: a retry cannot create it.
 * Events are ordered by occurredAt per order: an older one adds what it knows (the filler
 * number) but never changes the status a newer one set.
 */
import type { OrderStatusChanged } from '@ancillary/contracts';
import type { Pool, PoolClient } from 'pg';
import { UnknownOrderError } from './errors';
import { eventSource, nonEmpty } from './event.mapper';
import {
  duplicateFromState,
  type EventState,
  type EventWriteReceipt,
  type EventWriterOptions,
  executeWrite,
  loadEventState,
  recordedEvent,
  resourceKey,
  type StoredJson,
  storedMap,
  subjectPatientId,
  versionsToWrite,
  watermarkOf,
} from './event-writer';
import type { FhirResourceType } from './fhir.types';
import { FHIR_ID_PATTERN, identifierLockName, resourceLockName } from './ids';
import type { WriteOutcome } from './lab-result.writer';
import { applyOrderStatus, type StatusNotApplied } from './order-status.mapper';
import {
  isOrderResourceType,
  ORDER_RESOURCE_TYPES,
  type OrderResourceType,
} from './orders/order-codes';
import { inLockedTransaction } from './transaction';

export interface OrderStatusReceipt extends EventWriteReceipt {
  resourceType: OrderResourceType;
  resourceId: string;
  /** The order's FHIR status after the write (not known for a DUPLICATE_EVENT). */
  status?: string;
  /** Why the event's status was not applied, when it was not. */
  statusNotApplied?: StatusNotApplied;
}

const KIND = 'order-status';

interface OrderKeys {
  /** The order the event names by id, when it names a valid one. */
  named?: { type: OrderResourceType; id: string };
  placer?: { system: string; value: string };
}

export class OrderStatusWriter {
  constructor(
    private readonly pool: Pool,
    private readonly options: EventWriterOptions,
  ) {}

  async write(event: OrderStatusChanged): Promise<OrderStatusReceipt> {
    const keys = this.keys(event);
    const recorded = await recordedEvent(this.pool, event.eventId);
    if (recorded) {
      return {
        ...recorded.receipt,
        resourceType:
          recorded.entry.resourceType === 'MedicationRequest'
            ? 'MedicationRequest'
            : 'ServiceRequest',
        resourceId: recorded.entry.resourceId,
      };
    }
    const names: string[] = [];
    if (keys.placer) {
      for (const type of ORDER_RESOURCE_TYPES) {
        names.push(identifierLockName(type, keys.placer.system, keys.placer.value));
      }
    }
    if (keys.named) names.push(resourceLockName(keys.named.type, keys.named.id));
    const receipt = await inLockedTransaction(
      this.pool,
      names,
      `applying order status ${event.eventId}`,
      (client) => this.apply(client, event, keys),
    );
    return receipt.unchangedReason === 'DUPLICATE_EVENT'
      ? receipt
      : { ...receipt, writtenAt: Date.now() };
  }

  private keys(event: OrderStatusChanged): OrderKeys {
    const type = nonEmpty(event.orderResourceType);
    const id = nonEmpty(event.orderResourceId);
    const placer = nonEmpty(event.placerOrderNumber);
    return {
      ...(type && isOrderResourceType(type) && id && FHIR_ID_PATTERN.test(id)
        ? { named: { type, id } }
        : {}),
      ...(placer ? { placer: { system: this.options.placerOrderSystem, value: placer } } : {}),
    };
  }

  /** The order the event is about: the one it names, else the one its placer number finds. */
  private resolve(
    event: OrderStatusChanged,
    keys: OrderKeys,
    state: EventState,
    stored: Map<string, StoredJson>,
  ): StoredJson {
    const named = keys.named ? stored.get(resourceKey(keys.named.type, keys.named.id)) : undefined;
    if (named) return named;
    const found = state.orders
      .filter((o) => isOrderResourceType(o.resourceType))
      // The type the event names first, if it names one.
      .sort(
        (a, b) =>
          Number(b.resourceType === keys.named?.type) - Number(a.resourceType === keys.named?.type),
      );
    const first = found[0]
      ? stored.get(resourceKey(found[0].resourceType, found[0].id))
      : undefined;
    if (!first) {
      const asked = [
        keys.placer
          ? `placer order number '${keys.placer.value}' (${keys.placer.system})`
          : undefined,
        keys.named ? `${keys.named.type}/${keys.named.id}` : undefined,
      ].filter((a): a is string => a !== undefined);
      throw new UnknownOrderError(
        asked.length === 0
          ? `order status ${event.eventId} from ${event.sourceSystem} names no order: neither a ` +
              'placer order number nor an order resource id'
          : `order status ${event.eventId} (${event.status}) from ${event.sourceSystem}: no ` +
              `ServiceRequest or MedicationRequest matches ${asked.join(' nor ')}`,
      );
    }
    if (found.length > 1) {
      this.options.logger.warn(
        { eventId: event.eventId, orders: found.map((o) => `${o.resourceType}/${o.id}`) },
        'several orders carry the placer order number; the status is applied to the first',
      );
    }
    return first;
  }

  private async apply(
    client: PoolClient,
    event: OrderStatusChanged,
    keys: OrderKeys,
  ): Promise<OrderStatusReceipt> {
    const { logger, timeZone, metrics } = this.options;
    const wanted: [FhirResourceType, string][] = keys.named
      ? [[keys.named.type, keys.named.id]]
      : [];
    const state = await loadEventState(client, {
      eventId: event.eventId,
      patientIdentifiers: [],
      ...(keys.placer ? { order: { resourceTypes: ORDER_RESOURCE_TYPES, ...keys.placer } } : {}),
      wanted,
    });
    const stored = storedMap(state.resources);
    if (state.ledger) {
      return {
        ...duplicateFromState(state.ledger),
        resourceType:
          state.ledger.resource_type === 'MedicationRequest'
            ? 'MedicationRequest'
            : 'ServiceRequest',
        resourceId: state.ledger.resource_id,
      };
    }
    const order = this.resolve(event, keys, state, stored);
    const type: OrderResourceType =
      order.resourceType === 'MedicationRequest' ? 'MedicationRequest' : 'ServiceRequest';
    const occurredAt = new Date(event.occurredAt);
    const watermark = watermarkOf(state, type, order.id);
    const outOfOrder = watermark !== null && occurredAt.getTime() < watermark.getTime();
    const change = applyOrderStatus(type, order.content, event, { outOfOrder });
    const where = {
      eventId: event.eventId,
      sourceSystem: event.sourceSystem,
      ...(event.messageControlId ? { messageControlId: event.messageControlId } : {}),
      orderStatus: event.status,
      order: `${type}/${order.id}`,
    };
    if (change.statusNotApplied === 'OUT_OF_ORDER') {
      logger.warn(
        {
          ...where,
          occurredAt: occurredAt.toISOString(),
          newestAppliedAt: watermark?.toISOString(),
        },
        'order status older than the last one applied; the order keeps its status',
      );
    } else if (change.statusNotApplied === 'FINAL_STATUS') {
      logger.warn(
        { ...where, currentStatus: change.status },
        'order status for an order in a final state; the order keeps its status',
      );
    } else if (change.statusNotApplied === 'UNKNOWN_STATUS') {
      logger.warn(where, 'order status UNKNOWN; the order keeps its status');
    }

    const now = new Date();
    const source = eventSource(event.sourceSystem, event.messageControlId, event.eventId);
    const versions = versionsToWrite(
      [{ ...change.order, resourceType: type, id: order.id }],
      stored,
      now,
      source,
    );
    const versionId = versions[0]?.versionId ?? order.versionId;
    const outcome: WriteOutcome = versions.length > 0 ? 'UPDATED' : 'UNCHANGED';
    const patientId = subjectPatientId(order.content);
    await executeWrite(client, {
      versions,
      now,
      timeZone,
      metrics,
      eventLedger: {
        eventId: event.eventId,
        kind: KIND,
        sourceSystem: event.sourceSystem,
        patientId: patientId ?? null,
        resourceType: type,
        resourceId: order.id,
        versionId,
        outcome,
        // The ledger's event time: for a status, when it occurred at the ancillary.
        receivedAt: occurredAt,
      },
    });
    return {
      eventId: event.eventId,
      ...(patientId ? { patientId } : {}),
      resourceType: type,
      resourceId: order.id,
      versionId,
      status: change.status,
      outcome,
      writtenAt: now.getTime(),
      ...(outcome === 'UNCHANGED'
        ? {
            unchangedReason:
              change.statusNotApplied === 'OUT_OF_ORDER'
                ? ('OUT_OF_ORDER' as const)
                : ('SAME_CONTENT' as const),
          }
        : {}),
      ...(change.statusNotApplied ? { statusNotApplied: change.statusNotApplied } : {}),
    };
  }
}
