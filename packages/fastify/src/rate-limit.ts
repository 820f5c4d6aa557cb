import {
  type Decision,
  type Duration,
  InvalidOptionError,
  type Logger,
  type PolicyOptions,
  type RateLimitInfo,
} from '@tollgate/core';
import {
  firstHeader,
  HttpRateLimiter,
  type HttpRateLimitOptions,
  type Outcome,
  type RequestReader,
} from '@tollgate/core/adapter';
import type {
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
} from 'fastify';
import fp from 'fastify-plugin';
import { constraintsOf, methodsOf, routeLimiterName, routePolicyName } from './route-name.js';

/** Sends the response for a refused request; the RateLimit and Retry-After headers are already set. */
export type RateLimitHandler = (request: FastifyRequest, reply: FastifyReply, decision: Decision) => unknown;

/** Options of one limit: the app-wide one given to `register`, or a route's `config.rateLimit`. */
export type RouteRateLimitOptions = HttpRateLimitOptions<FastifyRequest, RateLimitHandler>;

/**
 * A limit with parts left out, to be filled from the plugin's `global: false` defaults: any
 * option, the policy included, may be missing; the merged options are checked when the route is
 * declared.
 */
export type PartialRouteRateLimitOptions = Partial<
  Omit<RouteRateLimitOptions, 'max' | 'window' | 'burst' | 'policies'>
> & {
  max?: number;
  window?: Duration;
  burst?: number;
  policies?: readonly PolicyOptions[];
};

/**
 * Plugin options: a limit applied to every route of the context, plus `global: false` to apply
 * none app-wide and use these options only as defaults for routes that set `config.rateLimit`.
 */
export type RateLimitPluginOptions =
  | (RouteRateLimitOptions & { global?: true })
  | (Omit<PartialRouteRateLimitOptions, 'name'> & { global: false });

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * This route's own limit, applied after the app-wide one; `false` exempts the route from
     * both. With `global: false`, parts left out come from the plugin options.
     */
    rateLimit?: RouteRateLimitOptions | PartialRouteRateLimitOptions | false;
  }
  interface FastifyRequest {
    /** The decision of the last limit this request passed (the route's own, if it has one). */
    rateLimit?: RateLimitInfo;
    /** Every limit's decision on this request, by name (a route limit without one: `GET /login`). */
    rateLimits?: Readonly<Record<string, RateLimitInfo>>;
  }
}

const reader: RequestReader<FastifyRequest> = {
  // Fastify's own request.ip: the `trustProxy` server option alone decides.
  ip: (request) => request.ip,
  header: (request, name) => firstHeader(request.headers, name),
  holder: (request) => request,
  // 'close' follows 'finish'; only the first report counts, so a close alone means the client left.
  whenDone: (request, done) => {
    const res = responses.get(request);
    res?.once('finish', () => done(res.statusCode)).once('close', () => done(undefined));
  },
};

/** Each request's Node response, for `whenDone` (a Fastify request does not lead to its reply). */
const responses = new WeakMap<FastifyRequest, FastifyReply['raw']>();

const POLICY_FIELDS = ['max', 'window', 'burst', 'policies', 'name'] as const;

/**
 * A callback-style hook, not an async one: with the memory store the decision is synchronous,
 * and `done()` then runs the route without a promise or an extra tick.
 */
function hookFor(http: HttpRateLimiter<FastifyRequest, RateLimitHandler>): onRequestHookHandler {
  const { handler, watchesResponses } = http;
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
    if (watchesResponses) responses.set(request, reply.raw);
    try {
      outcome = http.handle(request);
    } catch (error) {
      return done(error as Error);
    }
    if (outcome instanceof Promise) outcome.then((o) => apply(request, reply, done, o), done);
    else apply(request, reply, done, outcome);
  };
}

/** The options read through own properties only: a polluted Object.prototype adds nothing. */
function ownOptions(options: object | undefined): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, options);
}

/**
 * A route's own `config.rateLimit`, never one inherited: with `Object.prototype.rateLimit = false`
 * (a prototype-pollution bug elsewhere), every route would be exempt from the app-wide limit.
 */
function routeLimit(config: object | undefined): unknown {
  return config !== undefined && Object.hasOwn(config, 'rateLimit')
    ? (config as { rateLimit?: unknown }).rateLimit
    : undefined;
}

/** Policy fields of one shape; a route giving one shape drops the defaults' other shape. */
const SINGLE_POLICY = ['max', 'window', 'burst'] as const;

/**
 * A route's options over the plugin defaults. A route that gives `policies` does not inherit
 * `max`/`window`/`burst`, and one that gives any of those does not inherit `policies`.
 */
function routeOptions(defaults: Record<string, unknown>, own: Record<string, unknown>): Record<string, unknown> {
  const merged = ownOptions({ ...defaults, ...own });
  if (own.policies !== undefined) for (const field of SINGLE_POLICY) if (own[field] === undefined) delete merged[field];
  if (SINGLE_POLICY.some((field) => own[field] !== undefined) && own.policies === undefined) delete merged.policies;
  return merged;
}

const plugin: FastifyPluginAsync<RateLimitPluginOptions> = async (fastify, options) => {
  const rest = ownOptions(options);
  const global = rest.global;
  delete rest.global;
  const logger = (rest.logger ?? fastify.log) as Logger;
  const defaults: Record<string, unknown> = ownOptions({ ...rest, logger });
  if (global === false) {
    // One name for every route would put all of them in one bucket.
    if (rest.name !== undefined) {
      throw new InvalidOptionError(
        'name',
        rest.name,
        'with `global: false` the defaults take no `name`: each route limit is named after its route, or by its own `name`',
      );
    }
    // No app-wide limit, but the defaults must still be valid: check them, with a stand-in for a missing policy part.
    const policy = rest.policies !== undefined ? {} : { max: rest.max ?? rest.burst ?? 1, window: rest.window ?? '1m' };
    new HttpRateLimiter({ ...defaults, ...policy } as RouteRateLimitOptions, reader);
  } else {
    // The app-wide limit's policy and name are its own; the rest are the routes' defaults.
    for (const field of POLICY_FIELDS) delete defaults[field];
  }

  // Everything is built now, so bad options fail at `register`, never on a request.
  const app =
    global === false ? undefined : hookFor(new HttpRateLimiter({ ...rest, logger } as RouteRateLimitOptions, reader));

  // One limiter per route config object, URL and constraints: Fastify adds a HEAD route for each
  // GET route with the same config, which shares the GET route's limiter (as do the methods of
  // one route); a config object reused on another route still gets a limiter of that route's own.
  const routeHooks = new WeakMap<object, Map<string, onRequestHookHandler>>();
  fastify.addHook('onRoute', (route) => {
    const own = routeLimit(route.config);
    if (own === undefined || own === false) return;
    if (typeof own !== 'object' || own === null || Array.isArray(own)) {
      throw new InvalidOptionError('config.rateLimit', own, 'accepted: an options object, or false');
    }
    const methods = methodsOf(route);
    const constraints = constraintsOf(route);
    const id = `${route.url} ${constraints}`;
    let hooks = routeHooks.get(own);
    if (hooks === undefined) {
      hooks = new Map();
      routeHooks.set(own, hooks);
    }
    let hook = hooks.get(id);
    if (hook === undefined) {
      const options = routeOptions(defaults, ownOptions(own));
      const named = options.name !== undefined;
      if (!named) options.name = routeLimiterName(methods, route.url, constraints);
      const display = named ? undefined : { policyName: routePolicyName(methods, route.url) };
      hook = hookFor(new HttpRateLimiter(options as unknown as RouteRateLimitOptions, reader, display));
      hooks.set(id, hook);
    }
    const existing =
      route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [...existing, hook];
  });

  if (app !== undefined) {
    const appHook = app;
    fastify.addHook('onRequest', function tollgateAppRateLimit(request, reply, done) {
      if (routeLimit(request.routeOptions.config) === false) return done();
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
