/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): delay_n = random(0, min(max, initial * multiplier^(n-1))). Full jitter spreads
 * the retries of many consumers that failed together, so a recovering database or broker
 * is not hit by all of them at once.
 */
export interface RetryPolicy {
  /**
   * Total attempts including the first one; 1 means no retry. `Infinity` retries until the
   * work succeeds or is stopped (an outbound sender waiting for an ancillary that is down).
   */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  initialDelayMs: 200,
  maxDelayMs: 10_000,
  multiplier: 2,
};

/** Delay before attempt `attempt + 1`, after `attempt` failed attempts (attempt ≥ 1). */
export function backoffDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * policy.multiplier ** (attempt - 1),
  );
  return Math.round(random() * ceiling);
}

export function validateRetryPolicy(policy: RetryPolicy): RetryPolicy {
  if (
    policy.maxAttempts !== Number.POSITIVE_INFINITY &&
    (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1)
  ) {
    throw new RangeError('retry.maxAttempts must be an integer ≥ 1 (or Infinity)');
  }
  if (
    policy.initialDelayMs < 0 ||
    policy.maxDelayMs < policy.initialDelayMs ||
    policy.multiplier < 1
  ) {
    throw new RangeError(
      'retry delays must satisfy 0 ≤ initialDelayMs ≤ maxDelayMs and multiplier ≥ 1',
    );
  }
  return policy;
}
