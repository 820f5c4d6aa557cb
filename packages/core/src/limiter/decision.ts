import { msUntilSurely, wholeTokens } from './bucket.js';
import type { Policy } from './policy-types.js';

/** Where a decision came from: the store, or a fallback while the store was failing. */
export type DecisionSource = 'store' | 'local' | 'open' | 'closed';

/** The state of one policy's bucket after a decision. */
export interface PolicyStatus {
  readonly policy: Policy;
  /** Whether this policy alone had enough tokens for the request. */
  readonly allowed: boolean;
  readonly remaining: number;
  readonly resetMs: number;
  readonly retryAfterMs: number;
}

/** The answer to `consume`, `check` or `peek`. */
export interface Decision {
  readonly allowed: boolean;
  /** Capacity of the binding policy (the one that decided, or the one with least left). */
  readonly limit: number;
  /** Whole tokens left in the binding policy's bucket. */
  readonly remaining: number;
  /** Milliseconds until the binding policy's bucket is full again. */
  readonly resetMs: number;
  /** Milliseconds until `cost` tokens are available in every bucket; 0 when allowed. */
  readonly retryAfterMs: number;
  /** One entry per policy, in the order they were configured. */
  readonly policies: readonly PolicyStatus[];
  readonly source: DecisionSource;
}

/**
 * Builds a decision from each bucket's tokens: after the debit when `allowed`, or as they
 * stand (nothing was taken) when not.
 */
export function buildDecision(
  policies: readonly Policy[],
  tokens: readonly number[],
  costs: readonly number[],
  allowed: boolean,
  source: DecisionSource,
): Decision {
  const statuses: PolicyStatus[] = [];
  let binding: PolicyStatus | undefined;
  let retryAfterMs = 0;
  for (let i = 0; i < policies.length; i++) {
    const policy = policies[i] as Policy;
    const t = tokens[i] ?? policy.capacity;
    const cost = costs[i] ?? 0;
    // Waits a caller acts on: waiting one, it finds the store's own refill done (msUntilSurely).
    const wait = allowed ? 0 : msUntilSurely(t, cost, policy.capacity, policy.ratePerMs);
    const status: PolicyStatus = {
      policy,
      allowed: wait === 0,
      remaining: wholeTokens(t),
      resetMs: msUntilSurely(t, policy.capacity, policy.capacity, policy.ratePerMs),
      retryAfterMs: wait,
    };
    statuses.push(status);
    if (wait > retryAfterMs) retryAfterMs = wait;
    if (binding === undefined || isMoreBinding(status, binding)) binding = status;
  }
  const top = binding as PolicyStatus;
  return {
    allowed,
    limit: top.policy.capacity,
    remaining: top.remaining,
    resetMs: top.resetMs,
    retryAfterMs,
    policies: statuses,
    source,
  };
}

type Standing = Pick<PolicyStatus, 'retryAfterMs' | 'remaining' | 'resetMs'>;

/** Whether `a` binds harder than `b`: longer to wait, then fewer left, then longer to refill. */
export function isMoreBinding(a: Standing, b: Standing): boolean {
  if (a.retryAfterMs !== b.retryAfterMs) return a.retryAfterMs > b.retryAfterMs;
  if (a.remaining !== b.remaining) return a.remaining < b.remaining;
  return a.resetMs > b.resetMs;
}

/** A decision for a request let through or refused without consulting any bucket. */
export function unlimitedDecision(policies: readonly Policy[], allowed: boolean, source: DecisionSource): Decision {
  const tokens = policies.map((p) => p.capacity);
  const decision = buildDecision(policies, tokens, [], true, source);
  return allowed ? decision : { ...decision, allowed: false, retryAfterMs: 1000 };
}
