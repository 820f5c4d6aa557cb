import { type MetricsHandlerOptions, scrapeMetrics, validateMetricsHandlerOptions } from '@tollgate/core/adapter';
import type { Handler } from 'hono';

/**
 * Serves tollgate's Prometheus registry, and the app's own registries given as `registry`
 * (prom-client's default `register`, or any other) from the same endpoint: OpenMetrics (with
 * trace exemplars) when the scraper asks for it, the Prometheus text format otherwise.
 *
 * Needs `prom-client` (an optional peer dependency: `npm install prom-client@15`); without it,
 * this throws `TOLLGATE_PEER_DEPENDENCY_MISSING` as the app is built.
 *
 * @example
 * app.get('/metrics', metricsHandler());
 */
export function metricsHandler(options?: MetricsHandlerOptions): Handler {
  const registries = validateMetricsHandlerOptions(options);
  return async function tollgateMetrics(c) {
    const { contentType, body } = await scrapeMetrics(c.req.header('accept'), registries);
    return c.body(body, 200, { 'Content-Type': contentType });
  };
}

export type { MetricsHandlerOptions };
