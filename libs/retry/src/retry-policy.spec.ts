import { backoffDelayMs, DEFAULT_RETRY_POLICY, validateRetryPolicy } from './retry-policy';

describe('backoffDelayMs', () => {
  const policy = { maxAttempts: 6, initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2 };

  it('doubles the ceiling per attempt up to the maximum (random = 1)', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(policy, n, () => 1))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  it('spreads delays over [0, ceiling] (full jitter)', () => {
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(0);
    expect(backoffDelayMs(policy, 3, () => 0.5)).toBe(200);
  });
});

describe('validateRetryPolicy', () => {
  it('accepts the default and refuses nonsense', () => {
    expect(validateRetryPolicy(DEFAULT_RETRY_POLICY)).toBe(DEFAULT_RETRY_POLICY);
    expect(() => validateRetryPolicy({ ...DEFAULT_RETRY_POLICY, maxAttempts: 0 })).toThrow(
      RangeError,
    );
    expect(() =>
      validateRetryPolicy({ ...DEFAULT_RETRY_POLICY, maxDelayMs: 1, initialDelayMs: 10 }),
    ).toThrow(RangeError);
  });
});
