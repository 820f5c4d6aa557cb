import { scrapeMetrics, validateMetricsHandlerOptions } from '@tollgate/core';
import type { RequestHandler } from 'express';

/**
 * Serves tollgate's Prometheus registry: OpenMetrics (with trace exemplars) when the scraper
 * asks for it, the Prometheus text format otherwise.
 *
 * @example
 * app.get('/metrics', metricsHandler());
 */
export function metricsHandler(options?: Record<string, never>): RequestHandler {
  validateMetricsHandlerOptions(options);
  return function tollgateMetrics(req, res, next) {
    scrapeMetrics(req.get('accept')).then(({ contentType, body }) => {
      res.set('Content-Type', contentType).send(body);
    }, next);
  };
}
