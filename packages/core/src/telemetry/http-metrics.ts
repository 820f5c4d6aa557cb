import { DURATION_BUCKETS } from './buckets.js';
import { lazyFamily } from './registry.js';

export type HttpDurationLabel = 'http_request_method' | 'http_route' | 'http_response_status_code' | 'error_type';

/** `http_route` for a request that matched no route: one series, never the path. */
export const UNMATCHED_ROUTE = '_UNMATCHED';

/**
 * `http.server.request.duration` under the name the OpenTelemetry Collector gives it in
 * Prometheus. `error_type` is present only on failed requests: an empty value instead would be a
 * second series for Prometheus to merge with the absent one.
 */
// Made when the first telemetry() is: server telemetry exists then.
// Typed with plain string labels: prom-client types exemplar labels as the metric's own label names.
export const httpServerDuration = lazyFamily(
  ({ Histogram }) =>
    new Histogram<string>({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of HTTP server requests.',
      labelNames: ['http_request_method', 'http_route', 'http_response_status_code', 'error_type'],
      buckets: [...DURATION_BUCKETS],
      enableExemplars: true,
      registers: [],
    }),
);
