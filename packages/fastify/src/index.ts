/**
 * tollgate for Fastify 5: the `rateLimit` and `telemetry` plugins and the `metricsHandler()`
 * route handler.
 *
 * @packageDocumentation
 * @module @tollgate/fastify
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
export {
  type PartialRouteRateLimitOptions,
  type RateLimitHandler,
  type RateLimitPluginOptions,
  type RouteRateLimitOptions,
  rateLimit,
} from './rate-limit.js';
export { type TelemetryOptions, telemetry } from './telemetry.js';
