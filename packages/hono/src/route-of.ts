import type { Context } from 'hono';
import { matchedRoutes } from 'hono/route';

interface MatchedRoute {
  path: string;
  method: string;
  handler: { length: number };
}

/**
 * The routes Hono matched for this request. The request's own `matchedRoutes` getter first:
 * `hono/route`'s helper reads them through a symbol of whichever build of Hono it was loaded
 * from, so when the app's Hono is the CommonJS build and this package's import the ESM one (or
 * the other way round), the helper finds nothing and throws. The helper serves a Hono without
 * the getter (it is deprecated in Hono 4).
 */
function routesOf(c: Context): readonly MatchedRoute[] {
  const own = (c.req as { matchedRoutes?: unknown }).matchedRoutes;
  return Array.isArray(own) ? (own as MatchedRoute[]) : matchedRoutes(c);
}

/**
 * The route template of the handler that answers (or would have answered) the request: the
 * last matched route that is a handler, not middleware. Hono matches every route before
 * running any, so a request refused by an app-wide limiter still names the route it was for.
 * Middleware is what `app.use` adds (method `ALL`, `(c, next)`); a 404 matched none.
 */
export function routeOf(c: Context): string | undefined {
  try {
    const routes = routesOf(c);
    for (let i = routes.length - 1; i >= 0; i--) {
      const route = routes[i];
      if (route !== undefined && (route.method !== 'ALL' || route.handler.length < 2)) return route.path;
    }
  } catch {
    // Telemetry never fails a request: a context without a match result has no route.
  }
  return undefined;
}
