import { ErrorCodes, TollgateError } from '../errors.js';
import { retryAfterSeconds } from '../http/header-integer.js';
import type { Decision } from './decision.js';

// The errors `RateLimiter.check()` throws; their codes are in the one table in errors.ts.

/** Thrown by `check()` when the request is over the limit. */
export class RateLimitExceededError extends TollgateError {
  /** Whole seconds until the request could succeed; at least 1. */
  readonly retryAfter: number;
  readonly decision: Decision;

  constructor(decision: Decision) {
    const retryAfter = retryAfterSeconds(decision.retryAfterMs);
    super(
      ErrorCodes.RATE_LIMITED,
      `Rate limit exceeded. Retry after ${retryAfter} second${retryAfter === 1 ? '' : 's'}`,
    );
    this.name = 'RateLimitExceededError';
    this.retryAfter = retryAfter;
    this.decision = decision;
  }
}

/** The store could not answer and the limiter is configured to refuse (`failMode: 'closed'`). */
export class StoreUnavailableError extends TollgateError {
  readonly decision: Decision;

  constructor(decision: Decision, options?: ErrorOptions) {
    super(ErrorCodes.STORE_UNAVAILABLE, 'Rate limit store unavailable and failMode is "closed"', options);
    this.name = 'StoreUnavailableError';
    this.decision = decision;
  }
}
