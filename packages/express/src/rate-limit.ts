import type { Decision, RateLimiter } from '@tollgate/core';
import {
  firstHeader,
  HttpRateLimiter,
  type HttpRateLimitOptions,
  type Outcome,
  type RequestReader,
} from '@tollgate/core/adapter';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type MaybeRefused, REFUSED } from './refused.js';
import './request-decision.js';

/** Sends the response for a refused request; the RateLimit and Retry-After headers are already set. */
export type RateLimitHandler = (req: Request, res: Response, next: NextFunction, decision: Decision) => unknown;

/**
 * The options of `rateLimit()`: the `RateLimiter` options plus `key`, `cost`, `skip`, `headers`, `handler`,
 * `ipv6Subnet`.
 */
export type RateLimitOptions = HttpRateLimitOptions<Request, RateLimitHandler>;

/**
 * The middleware, with the limiter behind it for `peek` and `reset`, and `keyFor(req)`: the key
 * a request is counted under, for those.
 */
export type RateLimitMiddleware = RequestHandler & {
  readonly limiter: RateLimiter;
  /** The key this request is counted under (what `limiter.peek` and `reset` take); undefined without a client address. */
  keyFor(req: Request): Promise<string | undefined>;
};

const reader: RequestReader<Request> = {
  // Express's own req.ip: `app.set('trust proxy', …)` alone decides whether X-Forwarded-For counts.
  ip: (req) => req.ip,
  header: (req, name) => firstHeader(req.headers, name),
  holder: (req) => req,
  // 'close' follows 'finish'; only the first report counts, so a close alone means the client left.
  whenDone: (req, done) => {
    req.res?.once('finish', () => done(req.res?.statusCode)).once('close', () => done(undefined));
  },
};

/**
 * Token-bucket rate limiting for Express 4.18+ and 5. Over the limit, the request gets 429,
 * `Retry-After`, the RateLimit header fields and an `application/problem+json` body, and the
 * handlers after this middleware do not run.
 *
 * @example
 * app.use(rateLimit({ max: 100, window: '1m' }));
 * app.use('/api', rateLimit({ max: 5000, window: '1h', key: 'token', name: 'api' }));
 */
export function rateLimit(options: RateLimitOptions): RateLimitMiddleware {
  const http = new HttpRateLimiter<Request, RateLimitHandler>(options, reader);
  const { handler } = http;

  const respond = (req: Request, res: Response, next: NextFunction, outcome: Outcome): unknown => {
    for (const [name, value] of outcome.headers) res.setHeader(name, value);
    if (outcome.action === 'next') return next();
    (req as Request & MaybeRefused)[REFUSED] = true;
    if (handler !== undefined && outcome.status === 429) return handler(req, res.status(429), next, outcome.decision);
    res.status(outcome.status).type(outcome.contentType).send(outcome.body);
  };

  const middleware: RequestHandler = (req, res, next) => {
    let outcome: Outcome | Promise<Outcome>;
    try {
      outcome = http.handle(req);
    } catch (error) {
      return next(error);
    }
    // The memory store answers at once: no promise, no extra tick for the common request.
    if (!(outcome instanceof Promise)) return respond(req, res, next, outcome);
    outcome.then((o) => respond(req, res, next, o)).catch(next);
  };
  return Object.assign(middleware, { limiter: http.limiter, keyFor: (req: Request) => http.keyFor(req) });
}
