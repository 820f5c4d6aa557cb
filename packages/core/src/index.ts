export { type Duration, parseDuration } from './duration.js';
export {
  type ErrorCode,
  ErrorCodes,
  InvalidOptionError,
  RateLimitExceededError,
  StoreUnavailableError,
  TollgateError,
} from './errors.js';
export { bearerToken, ipKey, tokenKey } from './http/client-key.js';
export {
  type Contribution,
  type HeaderList,
  type HeaderMode,
  rateLimitHeaders,
  retryAfterSeconds,
} from './http/headers.js';
export {
  HttpRateLimiter,
  type HttpRateLimitOptions,
  type Outcome,
  type RequestReader,
} from './http/http-limiter.js';
export { PROBLEM_CONTENT_TYPE, QUOTA_EXCEEDED_TYPE } from './http/problem.js';
export { EPSILON, msUntil, refill } from './limiter/bucket.js';
export type { Decision, DecisionSource, PolicyStatus } from './limiter/decision.js';
export type { Policy, PolicyOptions } from './limiter/policy.js';
export {
  type FailMode,
  type MultiPolicyOptions,
  RateLimiter,
  type RateLimiterOptions,
  type SinglePolicyOptions,
} from './limiter/rate-limiter.js';
export { consoleLogger, type Logger } from './log.js';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory-store.js';
export { type RedisClientLike, RedisStore, type RedisStoreOptions } from './stores/redis-store.js';
export type { BucketSpec, Store, StoreResult } from './stores/store.js';
