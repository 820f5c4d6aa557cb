import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { type MetricsHandlerOptions, scrapeMetrics, validateMetricsHandlerOptions } from '@tollgate/core/adapter';

/** A Fastify reply: sent through Fastify, so its hooks (telemetry's) see the response. */
interface FastifyReply {
  raw: ServerResponse;
  type(contentType: string): FastifyReply;
  send(body: string): unknown;
}

/**
 * Serves tollgate's Prometheus registry, and the app's own registries given as `registry`, from
 * a route of a controller: OpenMetrics (with trace exemplars) when the scraper asks for it, the
 * Prometheus text format otherwise. Call it with the platform's request and response (`@Req()`,
 * `@Res()`), on either platform.
 *
 * Needs `prom-client` (an optional peer dependency: `npm install prom-client@15`); without it,
 * this throws `TOLLGATE_PEER_DEPENDENCY_MISSING` when called, as the controller is built.
 *
 * @example
 * \@Controller()
 * export class MetricsController {
 *   private readonly metrics = metricsHandler();
 *
 *   \@Get('metrics')
 *   \@SkipRateLimit()
 *   scrape(\@Req() req: Request, \@Res() res: Response) {
 *     return this.metrics(req, res);
 *   }
 * }
 */
export function metricsHandler(
  options?: MetricsHandlerOptions,
): (request: { headers: IncomingHttpHeaders }, response: object) => Promise<void> {
  const registries = validateMetricsHandlerOptions(options);
  return async function tollgateMetrics(request, response) {
    const accept = request.headers.accept;
    const { contentType, body } = await scrapeMetrics(Array.isArray(accept) ? accept[0] : accept, registries);
    if (isFastifyReply(response)) {
      response.type(contentType).send(body);
      return;
    }
    const res = response as ServerResponse;
    res.statusCode = 200;
    res.setHeader('Content-Type', contentType);
    res.end(body);
  };
}

function isFastifyReply(response: object): response is FastifyReply {
  return 'raw' in response && typeof (response as Partial<FastifyReply>).type === 'function';
}

export type { MetricsHandlerOptions };
