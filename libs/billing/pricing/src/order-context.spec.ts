import { orderEvent } from '../test/completions.fixture';
import { orderContext } from './order-context';

describe('orderContext', () => {
  it('takes the ICD-10-CM reasons in order (not SNOMED) and the requester', () => {
    expect(orderContext(orderEvent())).toEqual({
      placerOrderNumber: 'PLC-5001',
      fillerOrderNumber: null,
      diagnoses: [
        { code: 'E11.9', display: 'Type 2 diabetes mellitus without complications' },
        { code: 'I10', display: 'Essential (primary) hypertension' },
      ],
      orderingProvider: { id: '1234567893', familyName: 'Wilson', givenName: 'James' },
      cancelled: false,
      sourceEventIds: ['ServiceRequest/sr-1/_history/1'],
    });
  });

  it('drops a repeated diagnosis and a missing requester', () => {
    const context = orderContext(
      orderEvent({
        requester: null,
        reasons: [
          { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'I10', display: null },
          { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'I10', display: 'again' },
        ],
      }),
    );
    expect(context.diagnoses).toEqual([{ code: 'I10', display: null }]);
    expect(context.orderingProvider).toBeNull();
  });

  it('a CANCEL marks the order cancelled and keeps what the NEW said', () => {
    const placed = orderContext(orderEvent());
    const cancel = orderEvent({
      eventId: 'ServiceRequest/sr-1/_history/2',
      action: 'CANCEL',
      resourceVersion: 2,
      reasons: [],
      requester: null,
    });
    const cancelled = orderContext(cancel, placed);
    expect(cancelled.cancelled).toBe(true);
    expect(cancelled.diagnoses).toEqual(placed.diagnoses);
    expect(cancelled.orderingProvider).toEqual(placed.orderingProvider);
    expect(cancelled.sourceEventIds).toEqual([
      'ServiceRequest/sr-1/_history/1',
      'ServiceRequest/sr-1/_history/2',
    ]);
    // The NEW replayed after the CANCEL does not revive the order.
    expect(orderContext(orderEvent(), cancelled).cancelled).toBe(true);
  });

  it('a CANCEL seen first is a cancellation on its own', () => {
    expect(orderContext(orderEvent({ action: 'CANCEL' })).cancelled).toBe(true);
  });

  it('refuses to fold events of another order', () => {
    expect(() =>
      orderContext(orderEvent({ placerOrderNumber: 'PLC-OTHER' }), orderContext(orderEvent())),
    ).toThrow(RangeError);
  });
});
