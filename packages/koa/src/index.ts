export {
  type Decision,
  ErrorCodes,
  MemoryStore,
  RateLimitExceededError,
  RateLimiter,
  RedisStore,
  TollgateError,
} from '@tollgate/core';
export { type RateLimitHandler, type RateLimitMiddleware, type RateLimitOptions, rateLimit } from './rate-limit.js';
