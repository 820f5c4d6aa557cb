/**
 * tollgate for Koa 2 and 3: `rateLimit()`, `telemetry()` and `metricsHandler()` middleware.
 *
 * @packageDocumentation
 * @module @tollgate/koa
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
