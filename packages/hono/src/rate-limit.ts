import type { Decision, RateLimiter, RateLimitHolder, RateLimitInfo } from '@tollgate/core';
import {
  assertOptionsObject,
  HttpRateLimiter,
  type HttpRateLimitOptions,
  type Outcome,
  type RequestReader,
  withHeaders,
} from '@tollgate/core/adapter';
import type { Context, Env, MiddlewareHandler } from 'hono';
import type { GetConnInfo } from 'hono/conninfo';
import { addressResolver } from './client-address.js';
import './context-decision.js';

// biome-ignore lint/suspicious/noExplicitAny: Hono's own middleware defaults its Env to any, so it fits every app.
type AnyEnv = any;

/** Makes the response for a refused request (`c.json(…, 429)`); the RateLimit and Retry-After fields are already set. */
export type RateLimitHandler<E extends Env = AnyEnv> = (
  c: Context<E>,
  decision: Decision,
) => Response | Promise<Response>;

/**
 * The options of `rateLimit()`: the `RateLimiter` options plus `key`, `cost`, `skip`, `headers`,
 * `handler`, `ipv6Subnet` (each function gets Hono's `Context`), and where the client address
 * comes from (`getConnInfo`, `trustProxy`).
 */
export type RateLimitOptions<E extends Env = AnyEnv> = HttpRateLimitOptions<Context<E>, RateLimitHandler<E>> & {
  /**
   * Your runtime's `getConnInfo` (`@hono/node-server/conninfo`, `hono/bun`, `hono/deno`,
   * `hono/cloudflare-workers`, ...), as Hono's `ipRestriction` takes it. Default: the address
   * `@hono/node-server`, Bun and Deno put in `c.env`, which is what their `getConnInfo` reads.
   */
  getConnInfo?: GetConnInfo;
  /**
   * How many reverse proxies of yours stand in front of the app, each appending to
   * X-Forwarded-For: the client is the address that many hops from the right (Express's
   * `trust proxy = n`). Default: none, and X-Forwarded-For is never read.
   */
  trustProxy?: number | false;
};

/**
 * The middleware, with the limiter behind it for `peek` and `reset`, and `keyFor(c)`: the key a
 * request is counted under, for those.
 */
export type RateLimitMiddleware<E extends Env = AnyEnv> = MiddlewareHandler<E> & {
  readonly limiter: RateLimiter;
  /** The key this request is counted under (undefined without a client address), for `limiter.peek` and `limiter.reset`. */
  keyFor(c: Context<E>): Promise<string | undefined>;
};

/**
 * Where core puts the decision: Hono's context variables, `c.get('rateLimit')` (the last
 * limiter's) and `c.get('rateLimits')` (each limiter's by name). A class, so its accessors are
 * shared, not made again for every request.
 */
class ContextHolder implements RateLimitHolder {
  constructor(private readonly c: Context) {}

  set rateLimit(info: RateLimitInfo | null) {
    this.c.set('rateLimit', info ?? undefined);
  }

  get rateLimits(): Record<string, RateLimitInfo> | null {
    // Core made this record and fills it; it is read-only only to the app.
    return (this.c.get('rateLimits') as Record<string, RateLimitInfo> | undefined) ?? null;
  }

  set rateLimits(all: Record<string, RateLimitInfo> | null) {
    this.c.set('rateLimits', all ?? undefined);
  }
}

/**
 * Token-bucket rate limiting for Hono 4, as middleware: app-wide with `app.use`, or on a route.
 * Over the limit, the request gets 429, `Retry-After`, the RateLimit header fields and an
 * `application/problem+json` body, and the handlers after it do not run. Allowed responses
 * carry the RateLimit fields.
 *
 * @example
 * app.use(rateLimit({ max: 100, window: '1m' }));
 * app.post('/login', rateLimit({ max: 5, window: '15m', name: 'login' }), login);
 */
export function rateLimit<E extends Env = AnyEnv>(options: RateLimitOptions<E>): RateLimitMiddleware<E> {
  const opts = assertOptionsObject(options, 'rateLimit');
  const addressOf = addressResolver(opts.getConnInfo, opts.trustProxy);
  delete opts.getConnInfo;
  delete opts.trustProxy;
  const reader: RequestReader<Context<E>> = {
    ip: addressOf,
    header: (c, name) => c.req.raw.headers.get(name) ?? undefined,
    holder: (c) => new ContextHolder(c),
    // The status once the handler has answered (below), or undefined if the client went away first.
    whenDone: (c, done) => {
      dones.set(c, done);
      c.req.raw.signal?.addEventListener('abort', () => done(undefined), { once: true });
    },
  };
  const dones = new WeakMap<Context<E>, (status: number | undefined) => void>();
  const http = new HttpRateLimiter<Context<E>, RateLimitHandler<E>>(opts as unknown as RateLimitOptions<E>, reader);
  const { handler, watchesResponses } = http;

  const middleware: MiddlewareHandler<E> = async (c, next) => {
    const outcome: Outcome = await http.handle(c);
    if (outcome.action === 'next') {
      // On the context first: a response made through it (c.json, c.text) carries them from the
      // start, as any Hono middleware's headers, and a limiter nearer the handler replaces them
      // with its fields, which report this one's policy too.
      for (const [name, value] of outcome.headers) c.header(name, value);
      try {
        await next();
      } finally {
        if (watchesResponses) dones.get(c)?.(c.error === undefined ? c.res.status : 500);
      }
      // A Response the handler built itself never saw the context's headers: add what it lacks.
      if (outcome.headers.length > 0 && !c.res.headers.has(outcome.headers[0]?.[0] as string)) {
        const response = withHeaders(c.res, outcome.headers);
        if (response !== c.res) c.res = response;
      }
      return;
    }
    // Set on the context, so a response made through it keeps what earlier middleware (CORS) set.
    for (const [name, value] of outcome.headers) c.header(name, value);
    if (handler !== undefined && outcome.status === 429) {
      return withHeaders(await handler(c, outcome.decision), outcome.headers);
    }
    c.header('Content-Type', outcome.contentType);
    return c.body(outcome.body, outcome.status);
  };
  return Object.assign(middleware, { limiter: http.limiter, keyFor: (c: Context<E>) => http.keyFor(c) });
}
