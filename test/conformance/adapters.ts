import Router from '@koa/router';
import type { RateLimitInfo } from '@tollgate/core';
import { rateLimit as expressRateLimit } from '@tollgate/express';
import { rateLimit as fastifyRateLimit, type RouteRateLimitOptions } from '@tollgate/fastify';
import { rateLimit as fetchRateLimit, rateLimitOf, rateLimitsOf } from '@tollgate/fetch';
import { rateLimit as honoRateLimit } from '@tollgate/hono';
import { rateLimit as koaRateLimit } from '@tollgate/koa';
import express from 'express';
import Fastify, { type FastifyRequest } from 'fastify';
import { Hono, type Context as HonoContext } from 'hono';
import Koa from 'koa';
import { forEachFramework } from '../frameworks.js';
import { serveFetch } from '../helpers/fetch-server.js';
import { listen } from '../helpers/http.js';
import { nestApp } from './nestjs-adapters.js';

/** Limiter options as the suite writes them: the same object goes to every framework. */
// biome-ignore lint/suspicious/noExplicitAny: options are deliberately untyped here, bad ones included.
export type AnyOptions = Record<string, any>;

/**
 * The app every adapter builds: `GET /` and `GET /api/x`, each counting its calls. `limit`
 * applies to the whole app; `apiLimit`, if given, is stacked on the /api routes only.
 */
export interface AppSpec {
  limit: AnyOptions;
  apiLimit?: AnyOptions;
  trustProxy?: boolean;
}

export interface Served {
  url: string;
  /** How many times a route handler ran. */
  hits(): number;
  close(): Promise<void>;
}

/**
 * The suite's options for a Fetch API adapter: the suite's "trust proxy on" is one proxy of ours
 * (`trustProxy: 1`: the client is the address it appended), and its `skip`, written against a
 * Node request's `headers` object, reads the request's `Headers` instead.
 */
function fetchOptions<Req>(options: AnyOptions, trustProxy: boolean | undefined, headersOf: (req: Req) => Headers) {
  const out: AnyOptions = { ...options };
  if (trustProxy) out.trustProxy = 1;
  // Own properties only, as the adapters read them: the prototype-pollution suite plants `skip`.
  const skip = Object.hasOwn(options, 'skip') ? options.skip : undefined;
  if (typeof skip === 'function') out.skip = (req: Req) => skip({ headers: Object.fromEntries(headersOf(req)) });
  return out;
}

export interface Adapter {
  name: string;
  serve(spec: AppSpec): Promise<Served>;
}

/** A decision as a route handler's JSON shows it. */
export type DecisionView = Pick<
  RateLimitInfo,
  'name' | 'allowed' | 'limit' | 'remaining' | 'resetMs' | 'key' | 'cost' | 'mode'
> & { resetTime: number };

/**
 * What the route handlers answer: the decision on the request as the framework holds it
 * (`req.rateLimit`, `ctx.state.rateLimit`, `request.rateLimit`: each adapter's accessor passes
 * it here). With `x-reset: yes` the handler first resets the request's bucket through it.
 */
export async function handlerBody(
  headers: Record<string, unknown>,
  rateLimit: RateLimitInfo | undefined,
  rateLimits: Readonly<Record<string, RateLimitInfo>> | undefined,
) {
  if (headers['x-reset'] === 'yes') await rateLimit?.reset();
  const view = (d: RateLimitInfo): DecisionView => ({
    name: d.name,
    allowed: d.allowed,
    limit: d.limit,
    remaining: d.remaining,
    resetMs: d.resetMs,
    resetTime: d.resetTime.getTime(),
    key: d.key,
    cost: d.cost,
    mode: d.mode,
  });
  return {
    ok: true,
    rateLimit: rateLimit === undefined ? null : view(rateLimit),
    rateLimits: Object.fromEntries(Object.entries(rateLimits ?? {}).map(([name, d]) => [name, view(d)])),
  };
}

const honoAdapter: Omit<Adapter, 'name'> = {
  async serve({ limit, apiLimit, trustProxy }) {
    let hits = 0;
    const options = (o: AnyOptions) => fetchOptions(o, trustProxy, (c: HonoContext) => c.req.raw.headers);
    const app = new Hono();
    app.use(honoRateLimit(options(limit) as never));
    const ok = async (c: HonoContext) => {
      hits += 1;
      return c.json(await handlerBody(Object.fromEntries(c.req.raw.headers), c.get('rateLimit'), c.get('rateLimits')));
    };
    app.get('/', ok);
    if (apiLimit) app.get('/api/x', honoRateLimit(options(apiLimit) as never), ok);
    else app.get('/api/x', ok);
    const server = await serveFetch(app.fetch);
    return { url: server.url, hits: () => hits, close: server.close };
  },
};

const fetchAdapter: Omit<Adapter, 'name'> = {
  async serve({ limit, apiLimit, trustProxy }) {
    let hits = 0;
    const options = (o: AnyOptions) => fetchOptions(o, trustProxy, (request: Request) => request.headers);
    const ok = async (request: Request) => {
      hits += 1;
      return Response.json(
        await handlerBody(Object.fromEntries(request.headers), rateLimitOf(request), rateLimitsOf(request)),
      );
    };
    // One app-wide limiter around each route's handler, as a router of route handlers does.
    const appLimit = fetchRateLimit(options(limit) as never);
    const root = appLimit(ok);
    const api = appLimit(apiLimit ? fetchRateLimit(options(apiLimit) as never)(ok) : ok);
    const server = await serveFetch((request, env) =>
      (new URL(request.url).pathname === '/api/x' ? api : root)(request, env),
    );
    return { url: server.url, hits: () => hits, close: server.close };
  },
};

/** Every framework in frameworks.json, in its order: a framework in the list needs its app here. */
export const adapters: Adapter[] = forEachFramework<Omit<Adapter, 'name'>>('test/conformance/adapters.ts', {
  express: {
    async serve({ limit, apiLimit, trustProxy }) {
      let hits = 0;
      const app = express();
      if (trustProxy) app.set('trust proxy', true);
      app.use(expressRateLimit(limit as never));
      if (apiLimit) app.use('/api', expressRateLimit(apiLimit as never));
      const ok = async (req: express.Request, res: express.Response) => {
        hits += 1;
        res.json(await handlerBody(req.headers, req.rateLimit, req.rateLimits));
      };
      app.get('/', ok);
      app.get('/api/x', ok);
      const server = await listen(app);
      return { url: server.url, hits: () => hits, close: server.close };
    },
  },
  koa: {
    async serve({ limit, apiLimit, trustProxy }) {
      let hits = 0;
      const app = new Koa();
      if (trustProxy) app.proxy = true;
      app.use(koaRateLimit(limit as never));
      const ok = async (ctx: Koa.Context) => {
        hits += 1;
        ctx.body = await handlerBody(ctx.headers, ctx.state.rateLimit, ctx.state.rateLimits);
      };
      const root = new Router();
      root.get('/', ok);
      const api = new Router({ prefix: '/api' });
      if (apiLimit) api.use(koaRateLimit(apiLimit as never));
      api.get('/x', ok);
      app.use(root.routes()).use(api.routes());
      const server = await listen(app.callback());
      return { url: server.url, hits: () => hits, close: server.close };
    },
  },
  fastify: {
    async serve({ limit, apiLimit, trustProxy }) {
      let hits = 0;
      const app = Fastify({ trustProxy: trustProxy === true });
      await app.register(fastifyRateLimit, limit as never);
      const ok = async (request: FastifyRequest) => {
        hits += 1;
        return handlerBody(request.headers, request.rateLimit, request.rateLimits);
      };
      app.get('/', ok);
      app.get('/api/x', apiLimit ? { config: { rateLimit: apiLimit as RouteRateLimitOptions } } : {}, ok);
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      return { url, hits: () => hits, close: () => app.close() };
    },
  },
  hono: honoAdapter,
  fetch: fetchAdapter,
  // NestJS on platform-express; conformance.test.ts runs it on platform-fastify too.
  nestjs: { serve: nestApp('express', handlerBody) },
});
