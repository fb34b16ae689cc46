import fc from 'fast-check';
import { ReplayStateError } from '../ops.errors';
import { MAX_REPLAY_STATE_LENGTH, ReplayState } from './replay-state';

describe('ReplayState', () => {
  it('moves the cursor over contiguous replays and keeps no metadata', () => {
    const state = ReplayState.empty(10n);
    for (const offset of [10n, 11n, 12n]) state.add(offset);
    expect(state.cursor).toBe(13n);
    expect(state.encode()).toBeNull();
    expect(state.has(12n)).toBe(true);
    expect(state.has(13n)).toBe(false);
  });

  it('remembers replays past a gap left by a filter, and closes the gap when it is replayed', () => {
    const state = ReplayState.empty(0n);
    state.add(0n);
    state.add(2n);
    state.add(3n);
    state.add(7n);
    expect(state.cursor).toBe(1n);
    expect(state.has(1n)).toBe(false);
    expect(state.has(2n)).toBe(true);
    expect(state.has(6n)).toBe(false);
    // ranges [2,4) and [7,8): gap 1 after the cursor, length 2; gap 3, length 1
    expect(state.encode()).toBe('r1:1.2,3.1');
    state.add(1n);
    expect(state.cursor).toBe(4n);
    expect(state.encode()).toBe('r1:3.1');
  });

  it('round-trips through commit metadata', () => {
    const state = ReplayState.empty(100n);
    for (const offset of [105n, 106n, 140n, 1_000_000n]) state.add(offset);
    const restored = ReplayState.fromCommit(state.cursor.toString(), state.encode(), 0n, 'test');
    expect(restored.encode()).toBe(state.encode());
    for (const offset of [100n, 105n, 106n, 107n, 140n, 999_999n, 1_000_000n]) {
      expect(restored.has(offset)).toBe(state.has(offset));
    }
  });

  it('starts a never-committed group at the low watermark', () => {
    const state = ReplayState.fromCommit('-1', null, 42n, 'test');
    expect(state.cursor).toBe(42n);
    expect(ReplayState.fromCommit(undefined, undefined, 7n, 'test').cursor).toBe(7n);
  });

  it('refuses metadata it did not write, naming where it was found', () => {
    expect(() => ReplayState.fromCommit('5', 'someone else', 0n, 'group g p0')).toThrow(
      ReplayStateError,
    );
    expect(() => ReplayState.fromCommit('5', 'r1:0.1', 0n, 'group g p0')).toThrow(/touching range/);
    expect(() => ReplayState.fromCommit('-1', 'r1:1.1', 0n, 'group g p0')).toThrow(
      /without an offset/,
    );
  });

  it('counts dead letters deleted by retention before they were replayed', () => {
    const state = ReplayState.empty(10n);
    state.add(12n);
    state.add(13n);
    // 10, 11, 14 were never replayed and are gone below 15; 12 and 13 were replayed.
    expect(state.forgetBelow(15n)).toBe(3n);
    expect(state.cursor).toBe(15n);
    expect(state.encode()).toBeNull();
    expect(state.forgetBelow(3n)).toBe(0n);
  });

  it('says when another fragment would not fit in the commit metadata', () => {
    const state = ReplayState.empty(0n);
    let offset = 1n;
    while (state.fitsAfterAdding(offset)) {
      state.add(offset);
      offset += 2n; // every other record: one range each
    }
    expect(state.encode()!.length).toBeLessThanOrEqual(MAX_REPLAY_STATE_LENGTH);
    expect(state.rangeCount).toBeGreaterThan(500);
    // Extending an existing range costs nothing, so it still fits.
    expect(state.fitsAfterAdding(offset - 1n)).toBe(true);
  });

  it('matches a plain set of offsets, whatever the order of replays (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 1_000n }),
        fc.array(fc.bigInt({ min: 0n, max: 200n }), { maxLength: 80 }),
        (cursor, deltas) => {
          const state = ReplayState.empty(cursor);
          const expected = new Set<bigint>();
          for (const delta of deltas) {
            state.add(cursor + delta);
            expected.add(cursor + delta);
          }
          const restored = ReplayState.fromCommit(state.cursor.toString(), state.encode(), 0n, 't');
          for (let o = 0n; o <= cursor + 201n; o++) {
            const want = o < cursor || expected.has(o);
            if (restored.has(o) !== want) return false;
          }
          return true;
        },
      ),
    );
  });
});
