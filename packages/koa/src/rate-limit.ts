import type { Decision, RateLimiter } from '@tollgate/core';
import {
  firstHeader,
  HttpRateLimiter,
  type HttpRateLimitOptions,
  type Outcome,
  type RequestReader,
} from '@tollgate/core/adapter';
import type { Context, Middleware, Next } from 'koa';
import { type MaybeRefused, REFUSED } from './refused.js';
import './state-decision.js';

/** Shapes the response for a refused request; the RateLimit and Retry-After headers are already set. */
export type RateLimitHandler = (ctx: Context, decision: Decision) => unknown;

/**
 * The options of `rateLimit()`: the `RateLimiter` options plus `key`, `cost`, `skip`, `headers`, `handler`,
 * `ipv6Subnet`.
 */
export type RateLimitOptions = HttpRateLimitOptions<Context, RateLimitHandler>;

/**
 * The middleware, with the limiter behind it for `peek` and `reset`, and `keyFor(ctx)`: the key
 * a request is counted under, for those.
 */
export type RateLimitMiddleware = Middleware & {
  readonly limiter: RateLimiter;
  /** The key this request is counted under (what `limiter.peek` and `reset` take); undefined without a client address. */
  keyFor(ctx: Context): Promise<string | undefined>;
};

const reader: RequestReader<Context> = {
  // Koa's own ctx.ip: `app.proxy` (and `app.proxyIpHeader`, `app.maxIpsCount`) alone decide trust.
  ip: (ctx) => ctx.ip,
  header: (ctx, name) => firstHeader(ctx.headers, name),
  holder: (ctx) => ctx.state,
  // 'close' follows 'finish'; only the first report counts, so a close alone means the client left.
  whenDone: (ctx, done) => {
    ctx.res.once('finish', () => done(ctx.res.statusCode)).once('close', () => done(undefined));
  },
};

/**
 * Token-bucket rate limiting for Koa 3 and 2. Over the limit, the request gets 429,
 * `Retry-After`, the RateLimit header fields and an `application/problem+json` body, and the
 * middleware after this one does not run.
 *
 * @example
 * app.use(rateLimit({ max: 100, window: '1m' }));
 * router.post('/login', rateLimit({ max: 5, window: '15m', name: 'login' }), login);
 */
export function rateLimit(options: RateLimitOptions): RateLimitMiddleware {
  const http = new HttpRateLimiter<Context, RateLimitHandler>(options, reader);
  const { handler } = http;

  const refuse = async (ctx: Context, outcome: Exclude<Outcome, { action: 'next' }>): Promise<void> => {
    (ctx as Context & MaybeRefused)[REFUSED] = true;
    if (handler !== undefined && outcome.status === 429) {
      ctx.status = 429;
      await handler(ctx, outcome.decision);
      return;
    }
    ctx.status = outcome.status;
    ctx.type = outcome.contentType;
    ctx.body = outcome.body;
  };

  const respond = (ctx: Context, next: Next, outcome: Outcome): Promise<unknown> => {
    for (const [name, value] of outcome.headers) ctx.set(name, value);
    return outcome.action === 'next' ? next() : refuse(ctx, outcome);
  };

  // Not async itself: Koa's compose turns a synchronous throw into a rejection, and the memory
  // store's answer then costs no extra promise before `next()`.
  const middleware: Middleware = (ctx, next) => {
    const outcome = http.handle(ctx);
    if (outcome instanceof Promise) return outcome.then((o) => respond(ctx, next, o));
    return respond(ctx, next, outcome);
  };
  return Object.assign(middleware, { limiter: http.limiter, keyFor: (ctx: Context) => http.keyFor(ctx) });
}
