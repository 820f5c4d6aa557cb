import type { Context } from 'hono';
import { matchedRoutes } from 'hono/route';

/**
 * The route template of the handler that answers (or would have answered) the request: the
 * last matched route that is a handler, not middleware. Hono matches every route before
 * running any, so a request refused by an app-wide limiter still names the route it was for.
 * Middleware is what `app.use` adds (method `ALL`, `(c, next)`); a 404 matched none.
 */
export function routeOf(c: Context): string | undefined {
  try {
    const routes = matchedRoutes(c);
    for (let i = routes.length - 1; i >= 0; i--) {
      const route = routes[i];
      if (route !== undefined && (route.method !== 'ALL' || route.handler.length < 2)) return route.path;
    }
  } catch {
    // Telemetry never fails a request: a context without a match result has no route.
  }
  return undefined;
}
