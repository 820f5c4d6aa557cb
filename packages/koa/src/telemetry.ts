import { firstHeader, HttpServerTelemetry, type HttpServerTelemetryOptions } from '@tollgate/core/adapter';
import type { Context, Middleware } from 'koa';
import { type MaybeRefused, REFUSED } from './refused.js';
import { matchedRoute, routeFromRouters } from './route-of.js';

/** The options of `telemetry()`: `maxRoutes` and `logger`. */
export type TelemetryOptions = HttpServerTelemetryOptions;

const header = (ctx: Context, name: string) => firstHeader(ctx.headers, name);

/**
 * The route @koa/router matched; for a request refused by tollgate before the router ran (an
 * app-wide limiter), the route it would have matched. Only refusals pay for that lookup.
 */
function routeOf(ctx: Context): string | undefined {
  const matched = matchedRoute(ctx);
  if (matched !== undefined || (ctx as Context & MaybeRefused)[REFUSED] !== true) return matched;
  return routeFromRouters(ctx);
}

/**
 * One OpenTelemetry SERVER span and one `http_server_request_duration_seconds` observation per
 * request, named and labelled by the @koa/router route template, never the raw path. Use it as
 * the first middleware, so the rate limiter and the handlers run inside its span.
 *
 * Needs `@opentelemetry/api` and `prom-client` (optional peer dependencies:
 * `npm install @opentelemetry/api@1.9 prom-client@15`); without them, this throws
 * `TOLLGATE_PEER_DEPENDENCY_MISSING` as the app is built. Spans go to the app's OpenTelemetry SDK,
 * or to the one `setupTelemetry()` from `@tollgate/otel` starts; without either, only the metric
 * is recorded.
 *
 * @example
 * app.use(telemetry());
 */
export function telemetry(options?: TelemetryOptions): Middleware {
  const http = new HttpServerTelemetry(options);
  return async function tollgateTelemetry(ctx, next) {
    const request = http.start(ctx.method, () => ({
      method: ctx.method,
      scheme: ctx.protocol,
      path: ctx.path,
      serverAddress: ctx.hostname,
      serverPort: ctx.req.socket.localPort,
      clientAddress: ctx.ip,
      userAgent: header(ctx, 'user-agent'),
      protocolVersion: ctx.req.httpVersion,
      header: (name) => header(ctx, name),
    }));
    try {
      await request.run(next);
    } catch (error) {
      request.setRoute(routeOf(ctx));
      const status = (error as { status?: unknown; statusCode?: unknown }).status;
      request.end(typeof status === 'number' && status >= 400 ? status : 500, error);
      throw error;
    }
    request.setRoute(routeOf(ctx));
    request.end(ctx.status);
  };
}
