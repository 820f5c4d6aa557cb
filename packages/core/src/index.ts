/**
 * tollgate's framework-neutral core, as an application uses it: the token-bucket `RateLimiter`,
 * the memory and Redis stores, errors, durations, and the telemetry helpers (tracing, Prometheus
 * metrics). What framework adapters are built from is in `@tollgate/core/adapter`; the stored
 * bucket layout, for tools that read a store, in `@tollgate/core/stored-format`.
 *
 * @packageDocumentation
 * @module @tollgate/core
 */
export { type Duration, parseDuration } from './duration.js';
export { type ErrorCode, ErrorCodes, InvalidOptionError, TollgateError } from './errors.js';
export type { RateLimitHolder, RateLimitInfo, RateLimitMode } from './http/rate-limit-info.js';
export type { BlockOptions } from './limiter/block.js';
export type {
  CircuitBreaker,
  CircuitConfig,
  CircuitOptions,
  CircuitState,
  CircuitTransition,
} from './limiter/circuit-breaker.js';
export type { Decision, DecisionSource, PolicyStatus } from './limiter/decision.js';
export { RateLimitExceededError, StoreUnavailableError } from './limiter/limit-errors.js';
export type { PerRequest, PerRequestPolicyOptions } from './limiter/per-request-limits.js';
export type { Policy, PolicyOptions } from './limiter/policy.js';
export {
  type QuotaOptions,
  type QuotaSource,
  RedisQuotaSource,
  type RedisQuotaSourceOptions,
} from './limiter/quota-source.js';
export {
  type FailMode,
  type MultiPolicyOptions,
  RateLimiter,
  type RateLimiterOptions,
  type SinglePolicyOptions,
  type WaitOptions,
} from './limiter/rate-limiter.js';
export type { Receipt } from './limiter/refund.js';
export type { ResponseOptions } from './limiter/response-settlement.js';
export type { Waited } from './limiter/slow-down.js';
export { consoleLogger, type Logger } from './log.js';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory-store.js';
export {
  type DenialCacheOptions,
  type GlideClientLike,
  type IoredisClientLike,
  type NodeRedisClientLike,
  type NodeRedisClusterLike,
  type RedisClientLike,
  type RedisConnection,
  type RedisNodeLike,
  RedisStore,
  type RedisStoreOptions,
} from './stores/redis-store.js';
export type { RedisSubscriberLike } from './stores/reset-channel.js';
export type { BucketSpec, Store, StoreResult } from './stores/store.js';
export {
  type MetricAttributes,
  type MetricUnit,
  type RecordMetricOptions,
  recordMetric,
} from './telemetry/record-metric.js';
export { collectDefaultMetrics, register } from './telemetry/registry.js';
export { traceOperation, traceSpan } from './telemetry/trace.js';
