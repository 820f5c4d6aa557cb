import {
  firstHeader,
  HttpServerTelemetry,
  type HttpServerTelemetryOptions,
  type RequestTelemetry,
} from '@tollgate/core/adapter';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** The options of the `telemetry` plugin: `maxRoutes` and `logger`. */
export type TelemetryOptions = HttpServerTelemetryOptions;

const header = (request: FastifyRequest, name: string) => firstHeader(request.headers, name);

const TELEMETRY = Symbol('tollgate.telemetry');
type Carrier = FastifyRequest & { [TELEMETRY]?: { telemetry: RequestTelemetry; error: unknown } | null };

const plugin: FastifyPluginAsync<TelemetryOptions> = async (fastify, options) => {
  const http = new HttpServerTelemetry(options);
  // A request decorator, not a WeakMap: Fastify gives every request the slot up front.
  if (!fastify.hasRequestDecorator(TELEMETRY)) fastify.decorateRequest(TELEMETRY, null);

  fastify.addHook('onRequest', (request, _reply, done) => {
    const telemetry = http.start(request.method, () => ({
      method: request.method,
      scheme: request.protocol,
      path: request.url.split('?', 1)[0] ?? '/',
      serverAddress: request.hostname,
      serverPort: request.socket.localPort,
      clientAddress: request.ip,
      userAgent: header(request, 'user-agent'),
      protocolVersion: request.raw.httpVersion,
      header: (name) => header(request, name),
    }));
    (request as Carrier)[TELEMETRY] = { telemetry, error: undefined };
    // The rest of the hook chain and the handler continue in the span's context.
    telemetry.run(done);
  });
  fastify.addHook('onError', (request, _reply, error, done) => {
    const entry = (request as Carrier)[TELEMETRY];
    if (entry != null) entry.error = error;
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const entry = (request as Carrier)[TELEMETRY];
    if (entry != null) {
      // routeOptions.url is the template (`/users/:id`); a request no route matched has none.
      entry.telemetry.setRoute(request.is404 ? undefined : request.routeOptions.url);
      entry.telemetry.end(reply.statusCode, entry.error);
    }
    done();
  });
};

/**
 * One OpenTelemetry SERVER span and one `http_server_request_duration_seconds` observation per
 * request, named and labelled by the route template, never the raw path. Register it before the
 * rate limiter, so the limiter and the handlers run inside its span.
 *
 * Needs `@opentelemetry/api` and `prom-client` (optional peer dependencies:
 * `npm install @opentelemetry/api@1.9 prom-client@15`); without them, this throws
 * `TOLLGATE_PEER_DEPENDENCY_MISSING` as the app is built. Spans go to the app's OpenTelemetry SDK,
 * or to the one `setupTelemetry()` from `@tollgate/otel` starts; without either, only the metric
 * is recorded.
 *
 * @example
 * await app.register(telemetry);
 */
export const telemetry = fp(plugin, { fastify: '5.x', name: '@tollgate/fastify/telemetry' });
