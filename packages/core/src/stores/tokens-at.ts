import { refill } from '../limiter/bucket.js';
import type { BucketSpec } from './store.js';

/**
 * A bucket's tokens at server time `at`, from `held` at `since`: bucket.ts's `refill`, except
 * that an `at` before `since` (a bucket stamped ahead of the caller's clock estimate) counts
 * backwards, so a wait computed from the result also covers that gap. For a refusal's tokens
 * only: they never describe more tokens than the bucket has.
 */
export function tokensAt(held: number, since: number, at: number, b: BucketSpec): number {
  return at >= since ? refill(held, since, at, b.capacity, b.ratePerMs) : held - (since - at) * b.ratePerMs;
}
