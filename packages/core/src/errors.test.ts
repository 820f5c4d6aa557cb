import { describe, expect, it } from 'vitest';
import { ErrorCodes } from './errors.js';
import { MAX_HEADER_INTEGER } from './http/headers.js';
import type { Decision } from './limiter/decision.js';
import { RateLimitExceededError } from './limiter/limit-errors.js';

const refused = (retryAfterMs: number): Decision =>
  ({ allowed: false, limit: 10, remaining: 0, resetMs: retryAfterMs, retryAfterMs }) as unknown as Decision;

describe('RateLimitExceededError', () => {
  it.each([
    [1, 1],
    [1000, 1],
    [1001, 2],
  ])('retryAfter for %d ms is %d whole seconds', (ms, s) => {
    const error = new RateLimitExceededError(refused(ms));
    expect(error.code).toBe(ErrorCodes.RATE_LIMITED);
    expect(error.retryAfter).toBe(s);
  });

  it.each([Number.POSITIVE_INFINITY, Number.NaN, 1e300])(
    'a wait no header can say (%d ms, a bucket deep in debt) is a finite whole number of seconds, as Retry-After sends it',
    (ms) => {
      const error = new RateLimitExceededError(refused(ms));
      expect(error.retryAfter).toBe(MAX_HEADER_INTEGER);
      expect(error.message).not.toMatch(/Infinity|NaN|e\+/);
    },
  );
});
