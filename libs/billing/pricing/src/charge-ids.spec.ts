import { TRANSACTION_ID_LENGTH, transactionIdFor } from '@ancillary/billing-dft';
import { chargeEventId } from './charge-ids';

describe('charge line ids', () => {
  const key = 'FIL-9001|30000101|2026-12-04';

  it('are the same for the same key and sequence, every time', () => {
    expect(chargeEventId(key, 1)).toBe(chargeEventId(key, 1));
    // Pinned: changing the derivation would give every stored key new ids, and charge again.
    expect(chargeEventId(key, 1)).toBe('3f5f07a1-c658-52ff-8e58-138eda53e71d');
  });

  it('differ between sequences and between keys, and so do their transaction ids', () => {
    const ids = [
      chargeEventId(key, 1),
      chargeEventId(key, 2),
      chargeEventId('FIL-9002|30000101|2026-12-04', 1),
      chargeEventId('dispense:DISP-3001', 1),
    ];
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids.map(transactionIdFor)).size).toBe(ids.length);
  });

  it('event ids are RFC 9562 version 5 UUIDs whose transaction ids fit FT1-2 and FT1-3', () => {
    const id = chargeEventId(key, 1);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(transactionIdFor(id)).toHaveLength(TRANSACTION_ID_LENGTH);
  });

  it('refuses a sequence that is not a positive integer', () => {
    expect(() => chargeEventId(key, 0)).toThrow(RangeError);
    expect(() => chargeEventId(key, 1.5)).toThrow(RangeError);
  });
});
