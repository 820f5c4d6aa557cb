/**
 * tollgate for the Fetch API: `rateLimit()` and `telemetry()` wrap any
 * `(request: Request, ...args) => Response` handler (Next.js App Router route handlers,
 * `Bun.serve`, `Deno.serve`, `@hono/node-server`), and `metricsHandler()` is one.
 *
 * @packageDocumentation
 * @module @tollgate/fetch
 */
export {
  type Decision,
  ErrorCodes,
  MemoryStore,
  RateLimitExceededError,
  RateLimiter,
  type RateLimitInfo,
  RedisStore,
  TollgateError,
} from '@tollgate/core';
export { rateLimitOf, rateLimitsOf } from './decision-of.js';
export { type MetricsHandlerOptions, metricsHandler } from './metrics-handler.js';
export {
  type FetchHandler,
  type RateLimit,
  type RateLimitHandler,
  type RateLimitOptions,
  rateLimit,
  type WrappedHandler,
} from './rate-limit.js';
export { type TelemetryOptions, telemetry } from './telemetry.js';
