/**
 * `@tollgate/core/adapter`: what a framework adapter is built from (`@tollgate/express`, `@tollgate/koa`,
 * `@tollgate/fastify` use nothing else from core beyond the main entry). The neutral HTTP layer
 * (`HttpRateLimiter` reads a request through a `RequestReader` and answers with an `Outcome`), client
 * keys, the rate-limit header fields and the 429 problem body, server telemetry and Prometheus
 * scraping. Also the building blocks tollgate's other packages (`@tollgate/llm`, `@tollgate/otel`)
 * share with core, so they check options, key stores, run scripts and make metrics as core does:
 * option checks, `storeKey`, `runScript`, `lazyFamily` and `BoundedValues`. An application does
 * not need this entry: it uses `@tollgate/core` and an adapter.
 *
 * @packageDocumentation
 * @module @tollgate/core/adapter
 */
export { bearerToken, ipKey, tokenKey } from './http/client-key.js';
export {
  fetchRequestInfo,
  forwardedClient,
  parseTrustProxy,
  refusalResponse,
  runtimeClientAddress,
  withHeaders,
} from './http/fetch-api.js';
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
export {
  CircuitBreaker,
  type CircuitConfig,
  NO_CALL,
  parseCircuitOptions,
} from './limiter/circuit-breaker.js';
export { tokenCount } from './limiter/policy.js';
export { isLogger } from './log.js';
export { assertKnownOptions, assertOptionsObject, positiveInteger, timerMs } from './options/validate.js';
export { isClientTimeout } from './stores/deadline.js';
export { type RedisScript, runScript } from './stores/redis-clients/run-script.js';
export { storeKey } from './stores/store-key.js';
export { BoundedValues, OVERFLOW_LABEL } from './telemetry/bounded-values.js';
export { initCircuitMetrics, recordCircuitTransition } from './telemetry/circuit-metrics.js';
export { UNMATCHED_ROUTE } from './telemetry/http-metrics.js';
export {
  type HttpRequestInfo,
  HttpServerTelemetry,
  type HttpServerTelemetryOptions,
  type RequestTelemetry,
} from './telemetry/http-server-telemetry.js';
export { annotateRateLimit, RATE_LIMIT_EVENT, RateLimitAttributes } from './telemetry/rate-limit-span.js';
export { lazyFamily } from './telemetry/registry.js';
export {
  type MetricsHandlerOptions,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  prefersOpenMetrics,
  type Scrape,
  scrapeMetrics,
  validateMetricsHandlerOptions,
} from './telemetry/scrape.js';
export { withTimeout } from './with-timeout.js';
