/** Synthetic OrderStatusChanged events for the repository's tests. */
import type { OrderStatusChanged } from '@ancillary/contracts';
import { T0 } from './lab-result.fixture';

export function orderStatus(
  status: OrderStatusChanged['status'],
  overrides: Partial<OrderStatusChanged> = {},
): OrderStatusChanged {
  const sourceSystem = overrides.sourceSystem ?? 'lis-main';
  const placer =
    overrides.placerOrderNumber === undefined ? 'PLC-S001' : overrides.placerOrderNumber;
  return {
    eventId: `status-fixture:${sourceSystem}:${placer ?? '-'}:${status}:${overrides.occurredAt ?? T0}`,
    sourceSystem,
    status,
    placerOrderNumber: placer,
    fillerOrderNumber: null,
    orderEventId: null,
    orderResourceType: null,
    orderResourceId: null,
    patientIdentifier: 'MRN-400001',
    ackCode: status === 'ACCEPTED' ? 'AA' : status === 'REJECTED' ? 'AR' : null,
    reason: null,
    messageControlId: null,
    occurredAt: T0,
    ...overrides,
  };
}
