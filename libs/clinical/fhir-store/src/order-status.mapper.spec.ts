import { orderStatus } from '../test/order-status.fixture';
import { fillerOrderSystem, ORDER_REJECTION_EXTENSION } from './event.mapper';
import { applyOrderStatus, orderStatusFor, rejectionReason } from './order-status.mapper';

const serviceRequest = (status = 'active') => ({
  resourceType: 'ServiceRequest',
  id: 'sr-1',
  meta: { versionId: '3' },
  identifier: [{ system: 'urn:ancillary:placer-order', value: 'PLC-S001' }],
  status,
  intent: 'order',
  subject: { reference: 'Patient/p1' },
});
const medicationRequest = (status = 'active') => ({
  ...serviceRequest(status),
  resourceType: 'MedicationRequest',
});
const inOrder = { outOfOrder: false };

describe('orderStatusFor', () => {
  it('maps every status for both order types', () => {
    const expected = {
      ACCEPTED: ['active', 'active'],
      REJECTED: ['revoked', 'cancelled'],
      IN_PROGRESS: ['active', 'active'],
      COMPLETED: ['completed', 'completed'],
      CANCELLED: ['revoked', 'cancelled'],
      ON_HOLD: ['on-hold', 'on-hold'],
      UNKNOWN: [undefined, undefined],
    } as const;
    for (const [status, [sr, mr]] of Object.entries(expected)) {
      const code = status as keyof typeof expected;
      expect(orderStatusFor('ServiceRequest', code)).toBe(sr);
      expect(orderStatusFor('MedicationRequest', code)).toBe(mr);
    }
  });
});

describe('applyOrderStatus', () => {
  it('adds the filler number once on ACCEPTED, and drops meta', () => {
    const accepted = orderStatus('ACCEPTED', { fillerOrderNumber: 'F-77' });
    const change = applyOrderStatus('ServiceRequest', serviceRequest('draft'), accepted, inOrder);
    expect(change.status).toBe('active');
    expect(change.order['meta']).toBeUndefined();
    expect(change.order['identifier']).toEqual([
      { system: 'urn:ancillary:placer-order', value: 'PLC-S001' },
      {
        type: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'FILL' }],
        },
        system: fillerOrderSystem('lis-main'),
        value: 'F-77',
      },
    ]);
    const again = applyOrderStatus('ServiceRequest', change.order, accepted, inOrder);
    expect(again.order['identifier']).toHaveLength(2);
  });

  it('records a rejection: revoked/cancelled, extension with the reason, note, statusReason', () => {
    const rejected = orderStatus('REJECTED', { reason: 'Unknown test code XYZ' });
    const sr = applyOrderStatus('ServiceRequest', serviceRequest(), rejected, inOrder);
    expect(sr.status).toBe('revoked');
    expect(sr.order['extension']).toEqual([
      { url: ORDER_REJECTION_EXTENSION, valueString: 'Unknown test code XYZ' },
    ]);
    expect(sr.order['note']).toEqual([{ text: 'Rejected by lis-main: Unknown test code XYZ' }]);
    expect(sr.order['statusReason']).toBeUndefined();
    const mr = applyOrderStatus('MedicationRequest', medicationRequest(), rejected, inOrder);
    expect(mr.status).toBe('cancelled');
    expect(mr.order['statusReason']).toEqual({ text: 'Unknown test code XYZ' });
  });

  it('words a rejection without reason from the acknowledgment code', () => {
    expect(rejectionReason(orderStatus('REJECTED', { ackCode: 'CR' }))).toBe(
      'rejected by lis-main (acknowledgment CR) without a reason',
    );
  });

  it('never moves an order out of a final state, but still adds the filler number', () => {
    for (const [type, final] of [
      ['ServiceRequest', 'completed'],
      ['ServiceRequest', 'revoked'],
      ['MedicationRequest', 'cancelled'],
      ['MedicationRequest', 'stopped'],
    ] as const) {
      const stored = type === 'ServiceRequest' ? serviceRequest(final) : medicationRequest(final);
      const late = orderStatus('ACCEPTED', { fillerOrderNumber: 'F-9' });
      const change = applyOrderStatus(type, stored, late, inOrder);
      expect(change).toMatchObject({ status: final, statusNotApplied: 'FINAL_STATUS' });
      expect(change.order['status']).toBe(final);
      expect(change.order['identifier']).toHaveLength(2);
    }
    // Reaching the same final state again is not a refusal.
    expect(
      applyOrderStatus(
        'ServiceRequest',
        serviceRequest('completed'),
        orderStatus('COMPLETED'),
        inOrder,
      ).statusNotApplied,
    ).toBeUndefined();
  });

  it('keeps the status for an out-of-order or UNKNOWN event', () => {
    const older = applyOrderStatus(
      'ServiceRequest',
      serviceRequest('on-hold'),
      orderStatus('IN_PROGRESS'),
      {
        outOfOrder: true,
      },
    );
    expect(older).toMatchObject({ status: 'on-hold', statusNotApplied: 'OUT_OF_ORDER' });
    const unknown = applyOrderStatus(
      'ServiceRequest',
      serviceRequest(),
      orderStatus('UNKNOWN'),
      inOrder,
    );
    expect(unknown).toMatchObject({ status: 'active', statusNotApplied: 'UNKNOWN_STATUS' });
  });

  it('moves through on-hold and back, and notes a cancellation reason', () => {
    const held = applyOrderStatus(
      'ServiceRequest',
      serviceRequest(),
      orderStatus('ON_HOLD'),
      inOrder,
    );
    expect(held.status).toBe('on-hold');
    const resumed = applyOrderStatus(
      'ServiceRequest',
      held.order,
      orderStatus('IN_PROGRESS'),
      inOrder,
    );
    expect(resumed.status).toBe('active');
    const cancelled = applyOrderStatus(
      'MedicationRequest',
      medicationRequest(),
      orderStatus('CANCELLED', { reason: 'Out of stock' }),
      inOrder,
    );
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.order['note']).toEqual([{ text: 'Cancelled by lis-main: Out of stock' }]);
  });
});
