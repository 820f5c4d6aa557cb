import type { Context } from 'koa';

/** What @koa/router exposes: its dispatch middleware carries the router, which matches without running. */
interface RouterLike {
  match(path: string, method: string): { pathAndMethod?: ReadonlyArray<{ path?: unknown; methods?: unknown }> };
}

/** The route @koa/router matched (`/api/users/:id`), if any. */
export function matchedRoute(ctx: Context): string | undefined {
  const route = (ctx as Context & { _matchedRoute?: unknown })._matchedRoute;
  return typeof route === 'string' ? route : undefined;
}

/**
 * The route @koa/router would have matched for a request that never reached it: one refused by a
 * limiter in `app.use` before `router.routes()`. Asks each router mounted on the app, in order,
 * as its dispatch does (the last matching layer with methods), without running anything.
 */
export function routeFromRouters(ctx: Context): string | undefined {
  try {
    for (const fn of ctx.app.middleware) {
      const router = (fn as { router?: Partial<RouterLike> }).router;
      if (typeof router?.match !== 'function') continue;
      const layers = router.match(ctx.path, ctx.method).pathAndMethod ?? [];
      for (let i = layers.length - 1; i >= 0; i--) {
        const layer = layers[i];
        if (Array.isArray(layer?.methods) && layer.methods.length > 0 && typeof layer.path === 'string') {
          return layer.path;
        }
      }
    }
  } catch {
    // Telemetry never fails a request: a router that cannot answer leaves the route unknown.
  }
  return undefined;
}
