/**
 * tollgate for Express 4.18+ and 5: `rateLimit()`, `telemetry()` and `metricsHandler()`
 * middleware.
 *
 * @packageDocumentation
 * @module @tollgate/express
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
export { type MetricsHandlerOptions, metricsHandler } from './metrics-handler.js';
export { type RateLimitHandler, type RateLimitMiddleware, type RateLimitOptions, rateLimit } from './rate-limit.js';
export { type TelemetryOptions, telemetry } from './telemetry.js';
