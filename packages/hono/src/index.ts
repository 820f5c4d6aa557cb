/**
 * tollgate for Hono 4: `rateLimit()` and `telemetry()` middleware and the `metricsHandler()`
 * handler, on Node.js (`@hono/node-server`), Bun and Deno.
 *
 * @packageDocumentation
 * @module @tollgate/hono
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
