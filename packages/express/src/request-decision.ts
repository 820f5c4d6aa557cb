import type { RateLimitInfo } from '@tollgate/core';

/**
 * `req.rateLimit` and `req.rateLimits` on Express's request type: set by `rateLimit()` before
 * the next handler (or the refusal `handler`) runs.
 */
declare global {
  namespace Express {
    interface Request {
      /** The decision of the last `rateLimit()` this request passed. */
      rateLimit?: RateLimitInfo;
      /** Every `rateLimit()`'s decision on this request, by limiter name. */
      rateLimits?: Readonly<Record<string, RateLimitInfo>>;
    }
  }
}
