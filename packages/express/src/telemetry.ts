import { firstHeader, HttpServerTelemetry, type HttpServerTelemetryOptions } from '@tollgate/core';
import type { Request, RequestHandler } from 'express';

/** The options of `telemetry()`: `maxRoutes` and `logger`. */
export type TelemetryOptions = HttpServerTelemetryOptions;

const header = (req: Request, name: string) => firstHeader(req.headers, name);

/** `baseUrl + route.path` once the router matched, e.g. `/api/users/:id`; undefined for none. */
function routeOf(req: Request): string | undefined {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? (req.baseUrl ?? '') + path : undefined;
}

/**
 * One OpenTelemetry SERVER span and one `http_server_request_duration_seconds` observation per
 * request, named and labelled by the route template, never the raw path. Mount it first, so the
 * rate limiter and the handlers run inside its span.
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
    const done = () => {
      request.setRoute(routeOf(req));
      request.end(res.statusCode);
    };
    // A response emits 'close' once it is sent, and also when the connection is gone before:
    // one listener covers both.
    res.on('close', done);
    request.run(next);
  };
}
