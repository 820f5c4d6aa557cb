import { createHash } from 'node:crypto';
import {
  type Decision,
  firstHeader,
  HttpRateLimiter,
  type HttpRateLimitOptions,
  InvalidOptionError,
  type Logger,
  type Outcome,
  type RequestReader,
} from '@tollgate/core';
import type {
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';

/** Sends the response for a refused request; the RateLimit and Retry-After headers are already set. */
export type RateLimitHandler = (request: FastifyRequest, reply: FastifyReply, decision: Decision) => unknown;

/** Options of one limit: the app-wide one given to `register`, or a route's `config.rateLimit`. */
export type RouteRateLimitOptions = HttpRateLimitOptions<FastifyRequest, RateLimitHandler>;

/**
 * Plugin options: a limit applied to every route of the context, plus `global: false` to apply
 * none app-wide and use these options only as defaults for routes that set `config.rateLimit`.
 */
export type RateLimitPluginOptions =
  | (RouteRateLimitOptions & { global?: true })
  | (Partial<Omit<RouteRateLimitOptions, 'max' | 'window' | 'burst' | 'policies' | 'name'>> & { global: false });

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's own limit, applied after the app-wide one; `false` exempts the route from both. */
    rateLimit?: RouteRateLimitOptions | false;
  }
}

const reader: RequestReader<FastifyRequest> = {
  // Fastify's own request.ip: the `trustProxy` server option alone decides.
  ip: (request) => request.ip,
  header: (request, name) => firstHeader(request.headers, name),
};

const POLICY_FIELDS = ['max', 'window', 'burst', 'policies', 'name'] as const;

/**
 * A callback-style hook, not an async one: with the memory store the decision is synchronous,
 * and `done()` then runs the route without a promise or an extra tick.
 */
function hookFor(http: HttpRateLimiter<FastifyRequest, RateLimitHandler>): onRequestHookHandler {
  const { handler } = http;
  const apply = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, outcome: Outcome) => {
    for (const [name, value] of outcome.headers) reply.header(name, value);
    if (outcome.action === 'next') return done();
    if (handler !== undefined && outcome.status === 429) {
      reply.code(429);
      // The handler sends the reply; only its failure goes on to Fastify's error handling.
      Promise.resolve()
        .then(() => handler(request, reply, outcome.decision))
        .catch(done);
      return;
    }
    reply.code(outcome.status).type(outcome.contentType).send(outcome.body);
  };
  return function tollgateRateLimit(request, reply, done) {
    let outcome: Outcome | Promise<Outcome>;
    try {
      outcome = http.handle(request);
    } catch (error) {
      return done(error as Error);
    }
    if (outcome instanceof Promise) outcome.then((o) => apply(request, reply, done, o), done);
    else apply(request, reply, done, outcome);
  };
}

/** A route limiter's default name: its own buckets, the same in every instance of the app. */
function routeName(route: RouteOptions): string {
  const method = Array.isArray(route.method) ? route.method.join('-') : route.method;
  const name = `${method}.${route.url.replace(/\//g, '.').replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  if (name.length <= 64) return name;
  return `${name.slice(0, 51)}.${createHash('sha256').update(name).digest('hex').slice(0, 12)}`;
}

const plugin: FastifyPluginAsync<RateLimitPluginOptions> = async (fastify, options) => {
  const { global, ...rest } = options as RouteRateLimitOptions & { global?: boolean };
  const logger = (rest.logger ?? fastify.log) as Logger;
  const defaults: Record<string, unknown> = { ...rest, logger };
  for (const field of POLICY_FIELDS) delete defaults[field];

  // Everything is built now, so bad options fail at `register`, never on a request.
  let app: onRequestHookHandler | undefined;
  if (global === false) {
    const stray = POLICY_FIELDS.find((field) => (rest as Record<string, unknown>)[field] !== undefined);
    if (stray !== undefined) {
      throw new InvalidOptionError(
        stray,
        (rest as Record<string, unknown>)[stray],
        "with `global: false` a limit belongs in each route's `config.rateLimit`",
      );
    }
    // No app-wide limit, but the defaults must still be valid: check them with a stand-in policy.
    new HttpRateLimiter({ ...defaults, max: 1, window: 1 } as RouteRateLimitOptions, reader);
  } else {
    app = hookFor(new HttpRateLimiter({ ...rest, logger } as RouteRateLimitOptions, reader));
  }

  // Fastify adds a HEAD route for each GET route with the same config object: one limiter for both.
  const routeHooks = new WeakMap<object, onRequestHookHandler>();
  fastify.addHook('onRoute', (route) => {
    const own = route.config?.rateLimit;
    if (own === undefined || own === false) return;
    let hook = routeHooks.get(own);
    if (hook === undefined) {
      hook = hookFor(
        new HttpRateLimiter({ name: routeName(route), ...defaults, ...own } as RouteRateLimitOptions, reader),
      );
      routeHooks.set(own, hook);
    }
    const existing =
      route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [...existing, hook];
  });

  if (app !== undefined) {
    const appHook = app;
    fastify.addHook('onRequest', function tollgateAppRateLimit(request, reply, done) {
      if (request.routeOptions.config?.rateLimit === false) return done();
      appHook.call(this, request, reply, done);
    });
  }
};

/**
 * Token-bucket rate limiting for Fastify 5, as a plugin. Registered on the app it limits every
 * route; registered inside an encapsulated plugin it limits only that context. A route's
 * `config.rateLimit` adds its own limit on top (both apply), or `false` exempts the route.
 *
 * @example
 * await app.register(rateLimit, { max: 100, window: '1m' });
 * app.post('/login', { config: { rateLimit: { max: 5, window: '15m' } } }, login);
 * app.get('/health', { config: { rateLimit: false } }, health);
 */
export const rateLimit = fp(plugin, { fastify: '5.x', name: '@tollgate/fastify/rate-limit' });
