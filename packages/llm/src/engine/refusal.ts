import type { Decision, Policy, PolicyStatus } from '@tollgate/core';

/** Below this, a balance counts as covering its cost (float rounding in the stores' refill). */
const EPSILON = 1e-9;

/**
 * The decision a refused admission reports (what `RateLimitExceededError` carries): for each
 * bucket, whole tokens left, time until full, and time until it covers its cost. The waits are
 * rounded up and given a millisecond to spare, so a caller that waits them finds the store's
 * own refill done; the admission loop asks the store again anyway.
 */
export function refusal(policies: readonly Policy[], tokens: readonly number[], costs: readonly number[]): Decision {
  const statuses: PolicyStatus[] = policies.map((policy, i) => {
    const t = tokens[i] ?? policy.capacity;
    const wait = msUntil(t, costs[i] ?? 0, policy.ratePerMs);
    return {
      policy,
      allowed: wait === 0,
      remaining: Math.max(0, Math.floor(t + EPSILON)),
      resetMs: msUntil(t, policy.capacity, policy.ratePerMs),
      retryAfterMs: wait,
    };
  });
  // The binding bucket: longest to wait, then fewest left, then longest to refill.
  const top = statuses.reduce((a, b) =>
    b.retryAfterMs !== a.retryAfterMs
      ? b.retryAfterMs > a.retryAfterMs
        ? b
        : a
      : b.remaining !== a.remaining
        ? b.remaining < a.remaining
          ? b
          : a
        : b.resetMs > a.resetMs
          ? b
          : a,
  );
  return {
    allowed: false,
    limit: top.policy.capacity,
    remaining: top.remaining,
    resetMs: top.resetMs,
    retryAfterMs: top.retryAfterMs,
    policies: statuses,
    source: 'store',
  };
}

function msUntil(tokens: number, target: number, ratePerMs: number): number {
  if (tokens >= target - EPSILON) return 0;
  return Math.ceil((target - tokens) / ratePerMs) + 1;
}
