import type { RateLimitHolder, RateLimitInfo } from '@tollgate/core';
import { RequestSlot } from './request-slot.js';

/**
 * The decisions made on each request in flight. A registered symbol, so the ESM and the CommonJS
 * build of the package (and two copies of it) find the same decisions.
 */
const held = new RequestSlot<RateLimitHolder>(Symbol.for('tollgate.fetch.decisions'));

/** @internal Where core puts a request's decisions. */
export function holderOf(request: Request): RateLimitHolder {
  let holder = held.get(request);
  if (holder === undefined) {
    holder = {};
    held.set(request, holder);
  }
  return holder;
}

/**
 * The decision of the last `rateLimit()` wrapper this request passed, for the handler inside it:
 * `remaining`, `resetTime`, `key`, and `peek()`/`reset()` on that bucket. Undefined for a request
 * no limiter decided (skipped, or not wrapped).
 *
 * @example
 * export const GET = limit((request) => Response.json({ left: rateLimitOf(request)?.remaining }));
 */
export function rateLimitOf(request: Request): RateLimitInfo | undefined {
  return held.get(request)?.rateLimit ?? undefined;
}

/** Every `rateLimit()` wrapper's decision on this request, by limiter name. */
export function rateLimitsOf(request: Request): Readonly<Record<string, RateLimitInfo>> {
  return held.get(request)?.rateLimits ?? {};
}
