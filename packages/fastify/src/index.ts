export {
  type Decision,
  ErrorCodes,
  MemoryStore,
  RateLimitExceededError,
  RateLimiter,
  RedisStore,
  TollgateError,
} from '@tollgate/core';
export {
  type RateLimitHandler,
  type RateLimitPluginOptions,
  type RouteRateLimitOptions,
  rateLimit,
} from './rate-limit.js';
