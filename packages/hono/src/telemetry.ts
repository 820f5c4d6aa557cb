import {
  assertOptionsObject,
  fetchRequestInfo,
  HttpServerTelemetry,
  type HttpServerTelemetryOptions,
} from '@tollgate/core/adapter';
import type { MiddlewareHandler } from 'hono';
import type { GetConnInfo } from 'hono/conninfo';
import { addressResolver } from './client-address.js';
import { routeOf } from './route-of.js';

/** The options of `telemetry()`: `maxRoutes`, `logger`, and the client address as `rateLimit()` finds it. */
export interface TelemetryOptions extends HttpServerTelemetryOptions {
  /** Your runtime's `getConnInfo`, for the span's `client.address`, as in `rateLimit()`. */
  getConnInfo?: GetConnInfo | undefined;
  /** Reverse proxies of yours in front of the app, as in `rateLimit()`. */
  trustProxy?: number | false | undefined;
}

/**
 * One OpenTelemetry SERVER span and one `http_server_request_duration_seconds` observation per
 * request, named and labelled by the Hono route template (`/users/:id`), never the raw path.
 * Use it as the first middleware, so the rate limiter and the handlers run inside its span.
 *
 * Needs `@opentelemetry/api` and `prom-client` (optional peer dependencies:
 * `npm install @opentelemetry/api@1.9 prom-client@15`); without them, this throws
 * `TOLLGATE_PEER_DEPENDENCY_MISSING` as the app is built.
 *
 * @example
 * app.use(telemetry());
 */
export function telemetry(options?: TelemetryOptions): MiddlewareHandler {
  const opts = assertOptionsObject(options, 'telemetry');
  const addressOf = addressResolver(opts.getConnInfo, opts.trustProxy);
  delete opts.getConnInfo;
  delete opts.trustProxy;
  const http = new HttpServerTelemetry(opts as HttpServerTelemetryOptions);
  return async function tollgateTelemetry(c, next) {
    const request = http.start(c.req.method, () => fetchRequestInfo(c.req.raw, addressOf(c), c.env));
    try {
      await request.run(next);
    } catch (error) {
      // Hono turns a handler's error into a response itself; only a failing onError gets here.
      request.setRoute(routeOf(c));
      request.end(500, error);
      throw error;
    }
    request.setRoute(routeOf(c));
    request.end(c.res.status, c.error);
  };
}
