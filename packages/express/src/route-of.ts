import type { Application, Request } from 'express';

/** The parts of Express's router (4 and 5) that name a request's route; none of it is typed API. */
interface RouterLayer {
  /** Express 5's router 2.3+: the match, or false. Express 4 and router 2.2: true or false, with `path` set. */
  match(path: string): { path: string } | boolean;
  path?: unknown;
  params?: unknown;
  route?: { path?: unknown; _handlesMethod?(method: string): boolean; _handles_method?(method: string): boolean };
  handle?: { stack?: unknown };
}

/** Sub-routers deeper than this are not followed: a router mounted in itself must not loop. */
const MAX_DEPTH = 16;

/** `baseUrl + route.path` once the router matched, e.g. `/api/users/:id`; undefined for none. */
export function matchedRoute(req: Request): string | undefined {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? (req.baseUrl ?? '') + path : undefined;
}

/**
 * The route Express would have given a request that never reached the router: one refused by a
 * limiter mounted with `app.use` before the routes. Walks the app's router as Express routes
 * (first route layer whose path and method match, following sub-routers mounted with `use`),
 * without running anything. `path` is relative to the app. A route inside a mounted sub-app, or
 * one that earlier middleware would have rewritten the URL for, is not found: undefined.
 */
export function routeFromRouter(app: Application, method: string, path: string): string | undefined {
  const internal = app as Application & { router?: { stack?: unknown }; _router?: { stack?: unknown } };
  // Express 5 makes `app.router` on first read; Express 4 keeps its router in `_router`.
  try {
    const stack = internal._router?.stack ?? ('router' in internal ? internal.router?.stack : undefined);
    return Array.isArray(stack) ? walk(stack as RouterLayer[], method, path, '', 0) : undefined;
  } catch {
    // Router internals are not API: if a future Express changes them, the label is only less precise.
    return undefined;
  }
}

function walk(stack: RouterLayer[], method: string, path: string, base: string, depth: number): string | undefined {
  for (const layer of stack) {
    const matched = matchedPath(layer, path);
    if (matched === undefined) continue;
    const { route } = layer;
    if (route !== undefined) {
      if (!handles(route, method)) continue;
      return typeof route.path === 'string' ? base + route.path : undefined;
    }
    const inner = layer.handle?.stack;
    if (!Array.isArray(inner) || depth >= MAX_DEPTH) continue;
    // A mount matches at a path boundary only, as Express trims it.
    const next = path[matched.length];
    if (matched.length > 0 && next !== undefined && next !== '/') continue;
    const rest = path.slice(matched.length);
    const mount = matched.endsWith('/') ? matched.slice(0, -1) : matched;
    const found = walk(
      inner as RouterLayer[],
      method,
      rest.startsWith('/') ? rest : `/${rest}`,
      base + mount,
      depth + 1,
    );
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The part of `path` the layer matches, or undefined; the layer's own state is left as it was. */
function matchedPath(layer: RouterLayer, path: string): string | undefined {
  const saved = { path: layer.path, params: layer.params };
  let result: { path: string } | boolean;
  try {
    result = layer.match(path);
  } catch {
    // A malformed percent-encoding in a parameter: Express would answer 400, not route.
    return undefined;
  }
  if (typeof result !== 'boolean') return typeof result.path === 'string' ? result.path : undefined;
  // Express 4 (and router 2.2) keep a match's path and params on the shared layer, where the
  // routing of a request in flight may still read them: put them back.
  const matched = layer.path;
  layer.path = saved.path;
  layer.params = saved.params;
  return result && typeof matched === 'string' ? matched : undefined;
}

function handles(route: NonNullable<RouterLayer['route']>, method: string): boolean {
  if (typeof route._handlesMethod === 'function') return route._handlesMethod(method);
  if (typeof route._handles_method === 'function') return route._handles_method(method);
  return false;
}
