import type { RateLimitInfo } from '@tollgate/core';

/**
 * `ctx.state.rateLimit` and `ctx.state.rateLimits` on Koa's state type: set by `rateLimit()`
 * before the next middleware (or the refusal `handler`) runs.
 */
declare module 'koa' {
  interface DefaultState {
    /** The decision of the last `rateLimit()` this request passed. */
    rateLimit?: RateLimitInfo;
    /** Every `rateLimit()`'s decision on this request, by limiter name. */
    rateLimits?: Readonly<Record<string, RateLimitInfo>>;
  }
}
