/**
 * Token-bucket arithmetic as pure functions. The Redis Lua script repeats `refill` and the
 * admission rule operation for operation, so both stores reach bit-identical states.
 */

/** Tolerance that keeps binary rounding from refusing a token that has exactly refilled. */
export const EPSILON = 1e-9;

/** Tokens in a bucket at `now`, given `tokens` at `since`. Time running backwards adds nothing. */
export function refill(tokens: number, since: number, now: number, capacity: number, ratePerMs: number): number {
  return Math.min(capacity, tokens + Math.max(0, now - since) * ratePerMs);
}

/** Whether `tokens` cover `cost`. */
export function covers(tokens: number, cost: number): boolean {
  return tokens >= cost - EPSILON;
}

/** Whole tokens a caller may still spend. */
export function wholeTokens(tokens: number): number {
  return Math.max(0, Math.floor(tokens + EPSILON));
}

/** Past 2^52 ms a double no longer resolves a millisecond: such a wait is reported as estimated. */
const UNRESOLVED_MS = 2 ** 52;

/**
 * The fewest whole milliseconds after which a bucket holding `tokens` holds at least `target`,
 * by the same arithmetic as `refill` and `covers`, so a caller that waits exactly this long
 * succeeds and one that waits a millisecond less does not. Constant time: the closed form is
 * exact up to rounding, and `firstReady` corrects it in a few steps (never more than about a
 * hundred, whatever the inputs). Infinity when no wait can make up the balance.
 */
export function msUntil(tokens: number, target: number, capacity: number, ratePerMs: number): number {
  if (covers(tokens, target)) return 0;
  const estimate = Math.max(1, Math.ceil((target - EPSILON - tokens) / ratePerMs));
  // A NaN balance or rate, or no rate at all, never gets there.
  if (Number.isNaN(estimate) || estimate === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (estimate >= UNRESOLVED_MS) return estimate;
  // The closed form is almost always exact: checked inline, so the common case makes no closure.
  if (
    covers(refill(tokens, 0, estimate, capacity, ratePerMs), target) &&
    (estimate === 1 || !covers(refill(tokens, 0, estimate - 1, capacity, ratePerMs), target))
  ) {
    return estimate;
  }
  return firstReady(estimate, (ms) => covers(refill(tokens, 0, ms, capacity, ratePerMs), target));
}

/**
 * Relative rounding that separates two refills of one bucket to the same moment: from the stored
 * state (`held` at `since`, as the store computes it on the next call) and from the balance a
 * decision reported (`tokens` at `now`, refilled since). Each is a few roundings of numbers no
 * larger than the capacity and the balance, so they differ by less than 2^-49 of those; twice
 * that is the margin.
 */
const ROUNDING_MARGIN = 2 ** -48;

/**
 * As `msUntil`, for a caller that waits and then asks the store again: the store refills from
 * the state it holds, not from `tokens`, and its rounding can fall a hair short of `msUntil`'s
 * (up to a few units in the last place, more than `EPSILON` once the capacity passes a few
 * million), so the wait is the first millisecond at which the balance covers `target` with that
 * margin to spare. At most a millisecond longer than `msUntil`, and within the policy bounds only
 * then; a caller that waits exactly this long is admitted.
 */
export function msUntilSurely(tokens: number, target: number, capacity: number, ratePerMs: number): number {
  const ms = msUntil(tokens, target, capacity, ratePerMs);
  if (ms === 0 || !(ms < UNRESOLVED_MS)) return ms;
  const margin = (capacity + Math.abs(tokens)) * ROUNDING_MARGIN;
  // Unclamped: a balance that reaches the capacity by the stored state's rounding may miss it by
  // the other's, and a target at the capacity is then covered only by EPSILON, not by the cap.
  if (covers(tokens + ms * ratePerMs - margin, target)) return ms;
  return firstReady(ms + 1, (wait) => covers(tokens + wait * ratePerMs - margin, target));
}

/**
 * The least whole number `ms >= 1` for which `ready(ms)` holds, given a `guess` near it and a
 * `ready` that is monotone (false, then true for good). Steps away from the guess by doubling
 * strides, then halves the bracket: about 2 × log2(error) + 2 calls, so a guess off by rounding
 * costs two or three, and even one off by 2^52 costs about a hundred. Rounding can put the true
 * answer far from the closed form (a refill too small for the bucket's precision moves nothing
 * for a billion milliseconds), which a step-by-step search paid for in seconds of blocked loop.
 * Infinity if `ready` holds for no safe integer.
 */
export function firstReady(guess: number, ready: (ms: number) => boolean): number {
  let lo = 0; // the largest value known not ready (0 stands for "now", never counted as ready)
  let hi: number; // the smallest value known ready
  if (ready(guess)) {
    hi = guess;
    for (let stride = 1; hi - stride >= 1; stride *= 2) {
      if (!ready(hi - stride)) {
        lo = hi - stride;
        break;
      }
      hi -= stride;
    }
  } else {
    lo = guess;
    for (let stride = 1; ; stride *= 2) {
      const probe = Math.min(lo + stride, Number.MAX_SAFE_INTEGER);
      if (ready(probe)) {
        hi = probe;
        break;
      }
      if (probe === Number.MAX_SAFE_INTEGER) return Number.POSITIVE_INFINITY;
      lo = probe;
    }
  }
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (ready(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
