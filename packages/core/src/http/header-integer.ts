// No imports: errors.ts uses it too, and must not pull the header code (and its imports) in.

/**
 * The largest integer a Structured Field (RFC 9651) can carry: 15 digits. The policy bounds
 * (limiter/policy.ts) keep every value of an accepted policy far below it; a bucket in debt
 * (`adjust`, the LLM limiter's settling) can still wait longer than any header can say, so every
 * number sent is clamped to it, and a wait that never ends is sent as this.
 */
export const MAX_HEADER_INTEGER = 999_999_999_999_999;

/** Milliseconds as whole seconds, rounded up, within what a Structured Field integer can say. */
export function seconds(ms: number): number {
  return count(Math.ceil(ms / 1000));
}

/**
 * A whole number as a header may carry it: 0 to `MAX_HEADER_INTEGER`. Never written as `1e+21`,
 * `Infinity` or `NaN`: a value past the top (or NaN, a wait that cannot end) is the top.
 */
export function count(n: number): number {
  if (n > 0) return Math.min(n, MAX_HEADER_INTEGER);
  return Number.isNaN(n) ? MAX_HEADER_INTEGER : 0;
}

/**
 * `Retry-After` in whole seconds, never before the bucket can serve the request, at least 1, and
 * at most `MAX_HEADER_INTEGER` (a wait that never ends, from a bucket deep in debt, included).
 */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, seconds(retryAfterMs));
}
