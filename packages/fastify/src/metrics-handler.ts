import { type MetricsHandlerOptions, scrapeMetrics, validateMetricsHandlerOptions } from '@tollgate/core/adapter';
import type { RouteHandlerMethod } from 'fastify';

/**
 * Serves tollgate's Prometheus registry, and the app's own registries given as `registry`
 * (prom-client's default `register`, or any other) from the same endpoint: OpenMetrics (with
 * trace exemplars) when the scraper asks for it, the Prometheus text format otherwise.
 *
 * Needs `prom-client` (an optional peer dependency: `npm install prom-client@15`); without it,
 * this throws `TOLLGATE_PEER_DEPENDENCY_MISSING` as the app is built.
 *
 * @example
 * app.get('/metrics', { config: { rateLimit: false } }, metricsHandler());
 * // with the app's own metrics too (import * as promClient from 'prom-client'):
 * app.get('/metrics', { config: { rateLimit: false } }, metricsHandler({ registry: promClient.register }));
 */
export function metricsHandler(options?: MetricsHandlerOptions): RouteHandlerMethod {
  const registries = validateMetricsHandlerOptions(options);
  return async function tollgateMetrics(request, reply) {
    const { contentType, body } = await scrapeMetrics(request.headers.accept, registries);
    return reply.type(contentType).send(body);
  };
}

export type { MetricsHandlerOptions };
