import { type Decision, ErrorCodes, type RateLimiter, TollgateError } from '@tollgate/core';
import {
  assertOptionsObject,
  HttpRateLimiter,
  type HttpRateLimitOptions,
  type Outcome,
  type RequestReader,
  refusalResponse,
  withHeaders,
} from '@tollgate/core/adapter';
import { addressResolver } from './client-address.js';
import { holderOf } from './decision-of.js';
import { describe } from './describe.js';
import { RequestSlot } from './request-slot.js';

/** Any Fetch API handler: a request in, a response out, whatever the runtime passes after the request. */
export type FetchHandler<Args extends unknown[] = unknown[]> = (
  request: Request,
  ...args: Args
) => Response | Promise<Response>;

/**
 * A handler as `rateLimit()` and `telemetry()` return it: the wrapped handler's own parameters,
 * and whatever else the runtime passes after them (so a router can hand on Bun's server or
 * `@hono/node-server`'s bindings to a handler written as `(request) => Response`).
 */
export type WrappedHandler<Args extends unknown[] = unknown[]> = (
  request: Request,
  ...args: [...Args, ...unknown[]]
) => Response | Promise<Response>;

/** Makes the response for a refused request; the RateLimit and Retry-After fields are added to it. */
export type RateLimitHandler = (request: Request, decision: Decision) => Response | Promise<Response>;

/**
 * The options of `rateLimit()`: the `RateLimiter` options plus `key`, `cost`, `skip`, `headers`,
 * `handler`, `ipv6Subnet`, and where the client address comes from (`clientAddress`, `trustProxy`).
 * `Args` are the arguments the runtime passes after the request (Bun: the server; Deno: the
 * connection info; `@hono/node-server`: `{ incoming, outgoing }`; Next.js: the route context).
 */
export type RateLimitOptions<Args extends unknown[] = unknown[]> = HttpRateLimitOptions<Request, RateLimitHandler> & {
  /**
   * The client's address, for `key: 'ip'` (and `'token'` without a token). Default: what the
   * runtime passes the handler, on Bun (`server.requestIP`), Deno (`info.remoteAddr`) and
   * `@hono/node-server` (the socket); nothing on Next.js, which passes no address: give this
   * (or a `key`) there, or every request is refused with 500. Return a header only if a proxy of
   * yours sets it and clients cannot reach the app around that proxy.
   */
  clientAddress?: (request: Request, ...args: Args) => string | null | undefined;
  /**
   * How many reverse proxies of yours stand in front of the app, each appending to
   * X-Forwarded-For: the client is the address that many hops from the right (Express's
   * `trust proxy = n`). Default: none, and X-Forwarded-For is never read.
   */
  trustProxy?: number | false;
};

/** `rateLimit(options)`: wraps handlers, or checks a request for middleware that answers by itself. */
export interface RateLimit<Args extends unknown[] = unknown[]> {
  /** A handler limited by this limiter: over the limit it answers 429 and `handler` does not run. */
  <A extends unknown[]>(handler: FetchHandler<A>): WrappedHandler<A>;
  /**
   * Decides one request without a handler, for Next.js `middleware.ts` and other code that
   * answers by itself: the refusal to send (429; 503 with `failMode: 'closed'` and the store
   * down; 500 without a client address), or null to go on. The RateLimit fields of an allowed
   * request are not returned: wrap the handler to send them.
   */
  check(request: Request, ...args: Args): Promise<Response | null>;
  /** The limiter behind it, for `peek` and `reset`. */
  readonly limiter: RateLimiter;
  /** The key a request is counted under, for `limiter.peek` and `limiter.reset`. */
  keyFor(request: Request, ...args: Args): Promise<string | undefined>;
}

type Refusal = Extract<Outcome, { action: 'reject' }>;

/**
 * Token-bucket rate limiting for any Fetch API handler: Next.js App Router route handlers,
 * `Bun.serve`, `Deno.serve`, `@hono/node-server`, Cloudflare-style `fetch` exports. Over the
 * limit the request gets 429, `Retry-After`, the RateLimit header fields and an
 * `application/problem+json` body, and the handler does not run.
 *
 * @example
 * const limit = rateLimit({ max: 100, window: '1m' });
 * Bun.serve({ fetch: limit((request) => new Response('hello')) });
 * // Next.js (app/api/hello/route.ts), behind a proxy that sets X-Real-IP:
 * export const GET = rateLimit({ max: 10, window: '1m', clientAddress: (r) => r.headers.get('x-real-ip') })(handler);
 */
export function rateLimit<Args extends unknown[] = unknown[]>(options: RateLimitOptions<Args>): RateLimit<Args> {
  const opts = assertOptionsObject(options, 'rateLimit');
  const addressOf = addressResolver(opts.clientAddress, opts.trustProxy);
  delete opts.clientAddress;
  delete opts.trustProxy;

  // The runtime's arguments for each request in flight, read only if the key needs the address.
  const argsOf = new RequestSlot<unknown[]>(Symbol('tollgate.fetch.args'));
  const reader: RequestReader<Request> = {
    ip: (request) => addressOf(request, argsOf.get(request) ?? []),
    header: (request, name) => request.headers.get(name) ?? undefined,
    holder: holderOf,
    // The status once the handler has answered (below), or undefined if the client went away first.
    whenDone: (request, done) => {
      dones.set(request, done);
      request.signal?.addEventListener('abort', () => done(undefined), { once: true });
    },
  };
  const dones = new WeakMap<Request, (status: number | undefined) => void>();
  const http = new HttpRateLimiter<Request, RateLimitHandler>(opts as unknown as RateLimitOptions, reader);
  const { handler: onLimited, watchesResponses } = http;

  const refuse = async (request: Request, outcome: Refusal): Promise<Response> => {
    if (onLimited === undefined || outcome.status !== 429) return refusalResponse(outcome);
    return withHeaders(await onLimited(request, outcome.decision), outcome.headers);
  };

  const decide = (request: Request, args: unknown[]): Outcome | Promise<Outcome> => {
    if (args.length > 0) argsOf.set(request, args);
    return http.handle(request);
  };

  const wrap = <A extends unknown[]>(handler: FetchHandler<A>): WrappedHandler<A> => {
    if (typeof handler !== 'function') {
      throw new TollgateError(
        ErrorCodes.INVALID_OPTION,
        `tollgate: rateLimit(options)(handler) wraps a fetch handler, a function (request, ...args) => Response; got ${describe(handler)}`,
      );
    }
    const respond = (request: Request, args: A, outcome: Outcome): Response | Promise<Response> => {
      if (outcome.action !== 'next') return refuse(request, outcome);
      // Looked up only when refunds or slowDown watch the response: nothing per request otherwise.
      const done = watchesResponses ? dones.get(request) : undefined;
      const response = handler(request, ...args);
      if (response instanceof Response) {
        done?.(response.status);
        return withHeaders(response, outcome.headers);
      }
      return Promise.resolve(response).then(
        (r) => {
          done?.(r.status);
          return withHeaders(r, outcome.headers);
        },
        (error: unknown) => {
          done?.(500);
          throw error;
        },
      );
    };
    return function limited(request: Request, ...rest: [...A, ...unknown[]]): Response | Promise<Response> {
      const args = rest as unknown as A;
      let outcome: Outcome | Promise<Outcome>;
      try {
        outcome = decide(request, args);
      } catch (error) {
        return Promise.reject(error);
      }
      // The memory store answers at once: the handler runs without an extra promise.
      if (outcome instanceof Promise) return outcome.then((o) => respond(request, args, o));
      return respond(request, args, outcome);
    };
  };

  const check = async (request: Request, ...args: Args): Promise<Response | null> => {
    const outcome = await decide(request, args);
    return outcome.action === 'next' ? null : refuse(request, outcome);
  };

  const keyFor = (request: Request, ...args: Args): Promise<string | undefined> => {
    if (args.length > 0) argsOf.set(request, args);
    return http.keyFor(request);
  };

  return Object.assign(wrap, { check, keyFor, limiter: http.limiter }) as RateLimit<Args>;
}
