/** The methods of RFC 9110 and RFC 5789, the set the HTTP semantic conventions call known. */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
]);

/** The semconv value for a method outside the known set. */
export const OTHER_METHOD = '_OTHER';

/**
 * `http.request.method` as the semantic conventions want it: a known method in upper case, or
 * `_OTHER`, so a client inventing methods cannot invent metric series.
 */
export function normalizeMethod(method: string): string {
  if (KNOWN_METHODS.has(method)) return method;
  const upper = typeof method === 'string' ? method.toUpperCase() : '';
  return KNOWN_METHODS.has(upper) ? upper : OTHER_METHOD;
}

/** The span name: `{method} {route}`, `{method}` without a route, and `HTTP` for `_OTHER`. */
export function serverSpanName(method: string, route: string | undefined): string {
  const verb = method === OTHER_METHOD ? 'HTTP' : method;
  return route === undefined ? verb : `${verb} ${route}`;
}
