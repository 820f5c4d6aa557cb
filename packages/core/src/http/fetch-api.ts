import { InvalidOptionError } from '../errors.js';
import type { HttpRequestInfo } from '../telemetry/http-server-telemetry.js';
import type { HeaderList } from './headers.js';
import type { Outcome } from './http-limiter.js';

/**
 * What the adapters for Fetch API runtimes (`@tollgate/fetch`, `@tollgate/hono`) share: the
 * refusal as a `Response`, header fields added to a handler's `Response`, the client address a
 * server runtime hands a handler, and the opt-in trust of X-Forwarded-For.
 */

/** A refusal (429, 503 or 500) as a Fetch API `Response`. */
export function refusalResponse(outcome: Extract<Outcome, { action: 'reject' }>): Response {
  const headers = new Headers(outcome.headers as [string, string][]);
  headers.set('Content-Type', outcome.contentType);
  return new Response(outcome.body, { status: outcome.status, headers });
}

/**
 * `response` with the fields of `headers` it does not carry yet. Not overwriting is what stacks
 * limiters right: the limiter closest to the handler adds its fields first, and they already
 * report every policy the request passed (core merges them), so an outer limiter's own fields
 * must not replace them. A response whose headers are immutable (one from `fetch()`, or
 * `Response.redirect()`) is copied; one that cannot be copied (a 101 upgrade) is returned as it is.
 */
export function withHeaders(response: Response, headers: HeaderList): Response {
  if (headers.length === 0) return response;
  try {
    for (const [name, value] of headers) if (!response.headers.has(name)) response.headers.set(name, value);
    return response;
  } catch {
    // Immutable headers throw on the first set, before anything changed.
  }
  let copy: Response;
  try {
    copy = new Response(response.body, response);
  } catch {
    return response;
  }
  for (const [name, value] of headers) if (!copy.headers.has(name)) copy.headers.set(name, value);
  return copy;
}

interface RuntimeBindings {
  incoming?: { socket?: { remoteAddress?: unknown }; httpVersion?: unknown };
  server?: RuntimeBindings;
  requestIP?: (request: Request) => { address?: unknown } | null | undefined;
  remoteAddr?: { hostname?: unknown };
}

/**
 * The client's address as the server runtime reports it in the second argument it passes a
 * fetch handler (Hono's `c.env`): `@hono/node-server`'s `{ incoming }` (the socket's peer), Bun's
 * `server.requestIP(request)`, Deno's `info.remoteAddr`. These are what Hono's `getConnInfo` reads
 * on each runtime. Never a request header. Undefined for anything else (Next.js, Workers).
 */
export function runtimeClientAddress(request: Request, env: unknown): string | undefined {
  if (typeof env !== 'object' || env === null) return undefined;
  const bindings = env as RuntimeBindings;
  const incoming = bindings.incoming ?? bindings.server?.incoming;
  const socketAddress = incoming?.socket?.remoteAddress;
  if (typeof socketAddress === 'string') return socketAddress;
  const server = bindings.server ?? bindings;
  if (typeof server.requestIP === 'function') {
    const address = server.requestIP(request)?.address;
    return typeof address === 'string' ? address : undefined;
  }
  const hostname = bindings.remoteAddr?.hostname;
  return typeof hostname === 'string' ? hostname : undefined;
}

/**
 * The `trustProxy` option: how many reverse proxies of yours stand in front of the app, each
 * appending the address it got the request from to X-Forwarded-For. 0 when not given: the header
 * is then never read. `true` is refused: "trust every hop" lets any client name its own address.
 */
export function parseTrustProxy(value: unknown): number {
  if (value === undefined || value === false) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(
      'trustProxy',
      value,
      'accepted: the number of reverse proxies you run in front of the app (a whole number >= 1), or false; ' +
        'true is not accepted, since a client can put any address first in X-Forwarded-For',
    );
  }
  return value;
}

/**
 * The client address behind `hops` proxies of yours: the `hops`-th address of X-Forwarded-For
 * counted from the right, as Express's `trust proxy = hops` resolves it (the leftmost when the
 * header holds fewer). Without the header, or with `hops` 0, the connection's own address.
 */
export function forwardedClient(
  address: string | undefined,
  forwardedFor: string | null | undefined,
  hops: number,
): string | undefined {
  if (hops === 0 || forwardedFor === null || forwardedFor === undefined) return address;
  const hopsSeen = forwardedFor.split(',');
  const client = hopsSeen[Math.max(hopsSeen.length - hops, 0)]?.trim();
  return client === '' ? undefined : client;
}

/**
 * What server telemetry reads of a Fetch API request, with the client address the adapter
 * resolved; `env`, the runtime's second argument, gives the HTTP version on `@hono/node-server`.
 */
export function fetchRequestInfo(request: Request, clientAddress: string | undefined, env?: unknown): HttpRequestInfo {
  const url = new URL(request.url);
  const bindings = typeof env === 'object' && env !== null ? (env as RuntimeBindings) : undefined;
  const httpVersion = (bindings?.incoming ?? bindings?.server?.incoming)?.httpVersion;
  const scheme = url.protocol.slice(0, -1);
  const header = (name: string) => request.headers.get(name) ?? undefined;
  return {
    method: request.method,
    scheme,
    path: url.pathname,
    // An IPv6 host is bracketed in a URL, not in server.address.
    serverAddress: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    serverPort: url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port),
    clientAddress,
    userAgent: header('user-agent'),
    protocolVersion: typeof httpVersion === 'string' ? httpVersion : undefined,
    header,
  };
}
