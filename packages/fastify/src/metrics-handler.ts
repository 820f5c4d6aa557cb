import { scrapeMetrics, validateMetricsHandlerOptions } from '@tollgate/core';
import type { RouteHandlerMethod } from 'fastify';

/**
 * A route handler serving tollgate's Prometheus registry: OpenMetrics (with trace exemplars)
 * when the scraper asks for it, the Prometheus text format otherwise.
 *
 * @example
 * app.get('/metrics', { config: { rateLimit: false } }, metricsHandler());
 */
export function metricsHandler(options?: Record<string, never>): RouteHandlerMethod {
  validateMetricsHandlerOptions(options);
  return async function tollgateMetrics(request, reply) {
    const { contentType, body } = await scrapeMetrics(request.headers.accept);
    return reply.type(contentType).send(body);
  };
}
