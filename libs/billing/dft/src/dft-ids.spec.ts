import { dftControlId, TRANSACTION_ID_LENGTH, transactionIdFor } from './dft-ids';

describe('transactionIdFor', () => {
  it('is pinned: a changed derivation would re-post every replayed charge under a new FT1-2', () => {
    expect(transactionIdFor('charge:F1001|30000101|2026-12-04:1')).toBe('3CASCVJA27');
    expect(transactionIdFor('dispense:RX3003:1')).toBe('ISGDQE6OPT');
  });

  it('gives the same event the same id and fits FT1-3 (10 characters, 0-9 A-Z)', () => {
    const id = transactionIdFor('charge:A2002|40010201|2026-12-04:1');
    expect(transactionIdFor('charge:A2002|40010201|2026-12-04:1')).toBe(id);
    expect(id).toMatch(new RegExp(`^[0-9A-Z]{${TRANSACTION_ID_LENGTH}}$`));
    expect(TRANSACTION_ID_LENGTH).toBeLessThanOrEqual(10);
  });

  it('spreads 50 000 near-identical event ids over distinct ids, each 10 characters', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 50_000; i++) {
      const id = transactionIdFor(`charge:F${i}|30000101|2026-12-04:1`);
      expect(id).toHaveLength(10);
      ids.add(id);
    }
    expect(ids.size).toBe(50_000);
  });

  it('refuses an empty event id rather than give every such line the same FT1-2', () => {
    expect(() => transactionIdFor('')).toThrow(RangeError);
    expect(() => transactionIdFor('  ')).toThrow(RangeError);
  });
});

describe('dftControlId', () => {
  it('is the same for the same lines in the same order, and 20 characters (MSH-10 is ST 20)', () => {
    const lines = [{ transactionId: 'A' }, { transactionId: 'B' }];
    const id = dftControlId(lines);
    expect(id).toMatch(/^D[0-9A-F]{19}$/);
    expect(dftControlId([{ transactionId: 'A' }, { transactionId: 'B' }])).toBe(id);
    expect(dftControlId([{ transactionId: 'B' }, { transactionId: 'A' }])).not.toBe(id);
    // the separator keeps ["AB"] and ["A", "B"] apart
    expect(dftControlId([{ transactionId: 'AB' }])).not.toBe(id);
  });

  it('is a new control id per replay generation, the original for generation 0', () => {
    const lines = [{ transactionId: 'A' }];
    expect(dftControlId(lines, 0)).toBe(dftControlId(lines));
    const replays = [1, 2, 3].map((g) => dftControlId(lines, g));
    expect(new Set([dftControlId(lines), ...replays]).size).toBe(4);
    for (const r of replays) expect(r).toMatch(/^D[0-9A-F]{19}$/);
  });
});
