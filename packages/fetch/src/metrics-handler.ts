import { type MetricsHandlerOptions, scrapeMetrics, validateMetricsHandlerOptions } from '@tollgate/core/adapter';

/**
 * A fetch handler serving tollgate's Prometheus registry, and the app's own registries given as
 * `registry` (prom-client's default `register`, or any other): OpenMetrics (with trace
 * exemplars) when the scraper asks for it, the Prometheus text format otherwise.
 *
 * Needs `prom-client` (an optional peer dependency: `npm install prom-client@15`); without it,
 * this throws `TOLLGATE_PEER_DEPENDENCY_MISSING` when called.
 *
 * @example
 * // Next.js: app/metrics/route.ts
 * export const GET = metricsHandler();
 */
export function metricsHandler(options?: MetricsHandlerOptions): (request: Request) => Promise<Response> {
  const registries = validateMetricsHandlerOptions(options);
  return async function tollgateMetrics(request) {
    const { contentType, body } = await scrapeMetrics(request.headers.get('accept') ?? undefined, registries);
    return new Response(body, { status: 200, headers: { 'Content-Type': contentType } });
  };
}

export type { MetricsHandlerOptions };
