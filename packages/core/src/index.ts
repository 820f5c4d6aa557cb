/**
 * tollgate's framework-neutral core: the token-bucket `RateLimiter`, the memory and Redis
 * stores, the HTTP decision logic the adapters share, telemetry (tracing, Prometheus metrics)
 * and the Claude API limiter.
 *
 * @packageDocumentation
 * @module @tollgate/core
 */
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
export { firstHeader } from './http/header.js';
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
export {
  CIRCUIT_DEFAULTS,
  type CircuitBreaker,
  type CircuitConfig,
  type CircuitOptions,
  type CircuitState,
  type CircuitTransition,
} from './limiter/circuit-breaker.js';
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
export { OVERFLOW_LABEL } from './telemetry/bounded-values.js';
export { DURATION_BUCKETS } from './telemetry/buckets.js';
export { CIRCUIT_STATE_VALUES } from './telemetry/circuit-metrics.js';
export { UNMATCHED_ROUTE } from './telemetry/http-metrics.js';
export {
  type HttpRequestInfo,
  HttpServerTelemetry,
  type HttpServerTelemetryOptions,
  type RequestTelemetry,
} from './telemetry/http-server-telemetry.js';
export {
  decisionOutcome,
  MAX_LIMITER_LABELS,
  observeStoreLatency,
  RATE_LIMIT_OUTCOMES,
  RATE_LIMIT_SOURCES,
  type RateLimitOutcome,
  recordDecision,
  recordEvictions,
} from './telemetry/rate-limit-metrics.js';
export { annotateRateLimit, RATE_LIMIT_EVENT, RateLimitAttributes } from './telemetry/rate-limit-span.js';
export {
  MAX_SERIES_PER_METRIC,
  type MetricAttributes,
  type MetricUnit,
  type RecordMetricOptions,
  recordMetric,
} from './telemetry/record-metric.js';
export { collectDefaultMetrics, register } from './telemetry/registry.js';
export {
  type MetricsHandlerOptions,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  prefersOpenMetrics,
  type Scrape,
  scrapeMetrics,
  validateMetricsHandlerOptions,
} from './telemetry/scrape.js';
export { traceOperation, traceSpan } from './telemetry/trace.js';
