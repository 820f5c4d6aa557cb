/**
 * Exponential backoff as the official Claude SDKs do it: min(cap, base × 2^attempt), less up to
 * 25% jitter, so a wait is never shorter than three quarters of its step (the first retry after
 * 375–500 ms with the 500 ms base). Full jitter (down to 0) retried an overloaded API at once.
 */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const step = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.ceil(step * (1 - random() * 0.25));
}
