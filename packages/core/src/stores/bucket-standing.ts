import { msUntil, wholeTokens } from '../limiter/bucket.js';

/** What a bucket's tokens mean for a caller, as `tollgate status` reports them. */
export interface BucketStanding {
  /** Whole tokens that can be spent now. */
  readonly remaining: number;
  /** Milliseconds until the bucket is full again. */
  readonly resetMs: number;
  /** Milliseconds until one token is available; 0 when one is now. */
  readonly retryAfterMs: number;
}

/**
 * Reads a bucket's tokens (refilled to now, as `RedisStore.peek` returns them) with the limiter's
 * own arithmetic, so a tool shows what the limiter would decide. `capacity` and `ratePerMs` are
 * the policy's (`parsePolicyId` gives them from a stored id: capacity, and max / windowMs).
 */
export function bucketStanding(tokens: number, capacity: number, ratePerMs: number): BucketStanding {
  return {
    remaining: wholeTokens(tokens),
    resetMs: msUntil(tokens, capacity, capacity, ratePerMs),
    retryAfterMs: msUntil(tokens, 1, capacity, ratePerMs),
  };
}
