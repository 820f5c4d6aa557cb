import { scrapeMetrics, validateMetricsHandlerOptions } from '@tollgate/core';
import type { Middleware } from 'koa';

/**
 * Serves tollgate's Prometheus registry: OpenMetrics (with trace exemplars) when the scraper
 * asks for it, the Prometheus text format otherwise.
 *
 * @example
 * router.get('/metrics', metricsHandler());
 */
export function metricsHandler(options?: Record<string, never>): Middleware {
  validateMetricsHandlerOptions(options);
  return async function tollgateMetrics(ctx) {
    const { contentType, body } = await scrapeMetrics(ctx.get('accept'));
    ctx.type = contentType;
    ctx.body = body;
  };
}
