import Router from '@koa/router';
import { rateLimit as expressRateLimit } from '@tollgate/express';
import { rateLimit as fastifyRateLimit, type RouteRateLimitOptions } from '@tollgate/fastify';
import { rateLimit as koaRateLimit } from '@tollgate/koa';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { forEachFramework } from '../frameworks.js';
import { listen } from '../helpers/http.js';

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

export interface Adapter {
  name: string;
  serve(spec: AppSpec): Promise<Served>;
}

/** Every framework in frameworks.json, in its order: a framework in the list needs its app here. */
export const adapters: Adapter[] = forEachFramework<Omit<Adapter, 'name'>>('test/conformance/adapters.ts', {
  express: {
    async serve({ limit, apiLimit, trustProxy }) {
      let hits = 0;
      const app = express();
      if (trustProxy) app.set('trust proxy', true);
      app.use(expressRateLimit(limit as never));
      if (apiLimit) app.use('/api', expressRateLimit(apiLimit as never));
      const ok = (_req: express.Request, res: express.Response) => {
        hits += 1;
        res.json({ ok: true });
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
      const ok = (ctx: Koa.Context) => {
        hits += 1;
        ctx.body = { ok: true };
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
      const ok = async () => {
        hits += 1;
        return { ok: true };
      };
      app.get('/', ok);
      app.get('/api/x', apiLimit ? { config: { rateLimit: apiLimit as RouteRateLimitOptions } } : {}, ok);
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      return { url, hits: () => hits, close: () => app.close() };
    },
  },
});
