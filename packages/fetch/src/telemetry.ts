import { InvalidOptionError } from '@tollgate/core';
import {
  assertOptionsObject,
  fetchRequestInfo,
  HttpServerTelemetry,
  type HttpServerTelemetryOptions,
} from '@tollgate/core/adapter';
import { addressResolver } from './client-address.js';
import type { FetchHandler, WrappedHandler } from './rate-limit.js';

/** The options of `telemetry()`: `maxRoutes`, `logger`, the handler's `route`, and the client address as `rateLimit()` finds it. */
export interface TelemetryOptions<Args extends unknown[] = unknown[]> extends HttpServerTelemetryOptions {
  /**
   * The route template the handler serves, as the span name and the `http_route` label:
   * `'/api/users/[id]'` for a Next.js route handler in `app/api/users/[id]/route.ts`. A function
   * of the request for a handler that routes by itself; it must return a template, never the
   * raw path (beyond `maxRoutes` distinct values, the label is `_OVERFLOW`). Without it the
   * request is counted under `http_route="_UNMATCHED"`.
   */
  route?: string | ((request: Request) => string | undefined);
  /** The client's address for the span's `client.address`, as in `rateLimit()`. */
  clientAddress?: (request: Request, ...args: Args) => string | null | undefined;
  /** Reverse proxies of yours in front of the app, as in `rateLimit()`. */
  trustProxy?: number | false;
}

/**
 * Wraps a fetch handler in one OpenTelemetry SERVER span and one
 * `http_server_request_duration_seconds` observation per request, named and labelled by `route`,
 * never the raw path. Wrap it outermost, so the rate limiter and the handler run inside its span.
 * The duration ends when the handler returns its `Response` (a streamed body may take longer).
 *
 * Needs `@opentelemetry/api` and `prom-client` (optional peer dependencies); without them, this
 * throws `TOLLGATE_PEER_DEPENDENCY_MISSING` when called.
 *
 * @example
 * export const GET = telemetry({ route: '/api/users/[id]' })(limit(getUser));
 */
export function telemetry<Args extends unknown[] = unknown[]>(
  options?: TelemetryOptions<Args>,
): <A extends unknown[]>(handler: FetchHandler<A>) => WrappedHandler<A> {
  const opts = assertOptionsObject(options, 'telemetry');
  const { route, clientAddress, trustProxy } = opts;
  delete opts.route;
  delete opts.clientAddress;
  delete opts.trustProxy;
  if (route !== undefined && typeof route !== 'string' && typeof route !== 'function') {
    throw new InvalidOptionError(
      'route',
      route,
      'accepted: a route template string, or a function (request) => string',
    );
  }
  const addressOf = addressResolver(clientAddress, trustProxy);
  const http = new HttpServerTelemetry(opts as HttpServerTelemetryOptions);
  const routeOf = (typeof route === 'function' ? route : () => route) as (request: Request) => string | undefined;

  return <A extends unknown[]>(handler: FetchHandler<A>): WrappedHandler<A> =>
    function traced(request: Request, ...rest: [...A, ...unknown[]]): Response | Promise<Response> {
      const args = rest as unknown as A;
      const t = http.start(request.method, () => fetchRequestInfo(request, addressOf(request, args), args[0]));
      const finish = (status: number, error?: unknown) => {
        try {
          t.setRoute(routeOf(request));
        } catch {
          // A route function that throws costs the label, never the request.
        }
        t.end(status, error);
      };
      let result: Response | Promise<Response>;
      try {
        result = t.run(() => handler(request, ...args));
      } catch (error) {
        finish(500, error);
        throw error;
      }
      if (result instanceof Response) {
        finish(result.status);
        return result;
      }
      return Promise.resolve(result).then(
        (response) => {
          finish(response.status);
          return response;
        },
        (error: unknown) => {
          finish(500, error);
          throw error;
        },
      );
    };
}
