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

/**
 * The fewest whole milliseconds after which a bucket holding `tokens` holds at least `target`,
 * by the same arithmetic as `refill` and `covers`, so a caller that waits exactly this long
 * succeeds and one that waits a millisecond less does not.
 */
export function msUntil(tokens: number, target: number, capacity: number, ratePerMs: number): number {
  if (covers(tokens, target)) return 0;
  let ms = Math.max(1, Math.ceil((target - EPSILON - tokens) / ratePerMs));
  // Past 2^52 ms (or NaN, from a NaN balance) a millisecond more is no change: the corrections
  // below would never end. Such a wait is as good as forever anyway.
  if (!(ms < 2 ** 52)) return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
  while (!covers(refill(tokens, 0, ms, capacity, ratePerMs), target)) ms += 1;
  while (ms > 1 && covers(refill(tokens, 0, ms - 1, capacity, ratePerMs), target)) ms -= 1;
  return ms;
}
