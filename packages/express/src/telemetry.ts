import { firstHeader, HttpServerTelemetry, type HttpServerTelemetryOptions } from '@tollgate/core/adapter';
import type { Request, RequestHandler } from 'express';
import { type MaybeRefused, REFUSED } from './refused.js';
import { matchedRoute, routeFromRouter } from './route-of.js';

/** The options of `telemetry()`: `maxRoutes` and `logger`. */
export type TelemetryOptions = HttpServerTelemetryOptions;

const header = (req: Request, name: string) => firstHeader(req.headers, name);

/**
 * One OpenTelemetry SERVER span and one `http_server_request_duration_seconds` observation per
 * request, named and labelled by the route template, never the raw path. Mount it first, so the
 * rate limiter and the handlers run inside its span.
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
export function telemetry(options?: TelemetryOptions): RequestHandler {
  const http = new HttpServerTelemetry(options);
  return function tollgateTelemetry(req, res, next) {
    const request = http.start(req.method, () => ({
      method: req.method,
      scheme: req.protocol,
      path: req.path,
      serverAddress: req.hostname,
      serverPort: req.socket.localPort,
      clientAddress: req.ip,
      userAgent: header(req, 'user-agent'),
      protocolVersion: req.httpVersion,
      header: (name) => header(req, name),
    }));
    // Where this telemetry() sits: the app itself, not a sub-router or a mounted sub-app's path.
    const { app, url } = req;
    const atAppRoot = req.baseUrl === '';
    const done = () => {
      let route = matchedRoute(req);
      // Refused before routing (an app-wide limiter): the route it would have reached, as Koa
      // and Fastify report it. Only refusals pay for the walk; other unmatched requests are 404s.
      if (route === undefined && atAppRoot && (req as Request & MaybeRefused)[REFUSED] === true) {
        route = routeFromRouter(app, req.method, pathOf(url));
      }
      request.setRoute(route);
      request.end(res.statusCode);
    };
    // A response emits 'close' once it is sent, and also when the connection is gone before:
    // one listener covers both.
    res.on('close', done);
    request.run(next);
  };
}

function pathOf(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}
