import type { RateLimitInfo } from '@tollgate/core';

/**
 * `c.get('rateLimit')` and `c.get('rateLimits')` in every Hono app, typed: set by `rateLimit()`
 * before the next handler (or the refusal `handler`) runs.
 */
declare module 'hono' {
  interface ContextVariableMap {
    /** The decision of the last `rateLimit()` this request passed. */
    rateLimit?: RateLimitInfo;
    /** Every `rateLimit()`'s decision on this request, by limiter name. */
    rateLimits?: Readonly<Record<string, RateLimitInfo>>;
  }
}
