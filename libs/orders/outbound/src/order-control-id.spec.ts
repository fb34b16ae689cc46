import { createHash } from 'node:crypto';
import { orderControlId } from './order-control-id';

describe('orderControlId', () => {
  it('is O + the first 19 hex characters of the SHA-256 of the event id, 20 characters in all', () => {
    const eventId = 'ServiceRequest/sr-1001/_history/1';
    const hex = createHash('sha256').update(eventId).digest('hex').toUpperCase();
    const id = orderControlId(eventId);
    expect(id).toBe(`O${hex.slice(0, 19)}`);
    expect(id).toMatch(/^O[0-9A-F]{19}$/);
  });

  it('is the same for a resend of one event and differs between events and versions', () => {
    const a = orderControlId('ServiceRequest/sr-1001/_history/1');
    expect(orderControlId('ServiceRequest/sr-1001/_history/1')).toBe(a);
    expect(orderControlId('ServiceRequest/sr-1001/_history/2')).not.toBe(a);
    expect(orderControlId('MedicationRequest/sr-1001/_history/1')).not.toBe(a);
  });
});
