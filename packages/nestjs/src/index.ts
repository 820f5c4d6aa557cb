/**
 * tollgate for NestJS 11, on @nestjs/platform-express and @nestjs/platform-fastify alike:
 * `TollgateModule`, the `@RateLimit()` and `@SkipRateLimit()` decorators, `RateLimitGuard`
 * (global or per controller), per-request telemetry and `metricsHandler()`.
 *
 * @packageDocumentation
 * @module @tollgate/nestjs
 */
export {
  type Decision,
  ErrorCodes,
  MemoryStore,
  RateLimitExceededError,
  RateLimiter,
  RedisStore,
  TollgateError,
} from '@tollgate/core';
export { RateLimit, SkipRateLimit } from './decorators.js';
export { type MetricsHandlerOptions, metricsHandler } from './metrics-handler.js';
export type { RateLimitOptions, TollgateModuleOptions } from './options.js';
export type { PlatformRequest } from './platform-request.js';
export { RateLimitGuard } from './rate-limit.guard.js';
export { RateLimitRefusedException } from './refused-exception.js';
export { TollgateModule, type TollgateModuleAsyncOptions } from './tollgate.module.js';
