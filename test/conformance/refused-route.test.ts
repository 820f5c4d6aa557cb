import Router from '@koa/router';
import { SpanKind } from '@opentelemetry/api';
import * as tgExpress from '@tollgate/express';
import * as tgFastify from '@tollgate/fastify';
import * as tgKoa from '@tollgate/koa';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import Koa from 'koa';
import { afterAll, describe, expect, it } from 'vitest';
import { routeFromRouter } from '../../packages/express/src/route-of.js';
import { listen } from '../helpers/http.js';
import { startInMemoryTracing } from '../helpers/in-memory-tracing.js';

/**
 * Issue 12, item 7: with an app-wide limiter, Express counted every 429 under
 * `http_route="_UNMATCHED"` and named its span just `GET`, since the limiter refuses before
 * Express routes. All three adapters now report the route the request would have reached.
 */
const tracing = startInMemoryTracing('refused-route');
afterAll(() => tracing.shutdown());

const limit = { max: 1, window: '1h' } as const;

/** Each app: telemetry first, /metrics, then an app-wide limit of 1, then /<name>-hello and a sub-router's /<name>-api/users/:id. */
const apps: Array<{ name: string; start(): Promise<{ url: string; close(): Promise<void> }> }> = [
  {
    name: 'express',
    async start() {
      const app = express();
      app.use(tgExpress.telemetry());
      app.get('/metrics', tgExpress.metricsHandler());
      app.use(tgExpress.rateLimit(limit));
      app.get('/express-hello', (_req, res) => {
        res.send('hi');
      });
      const api = express.Router();
      api.get('/users/:id', (_req, res) => {
        res.send('user');
      });
      app.use('/express-api', api);
      return listen(app);
    },
  },
  {
    name: 'express4',
    async start() {
      const app = express4();
      app.use(tgExpress.telemetry());
      app.get('/metrics', tgExpress.metricsHandler());
      app.use(tgExpress.rateLimit(limit));
      app.get('/express4-hello', (_req, res) => {
        res.send('hi');
      });
      const api = express4.Router();
      api.get('/users/:id', (_req, res) => {
        res.send('user');
      });
      app.use('/express4-api', api);
      return listen(app);
    },
  },
  {
    name: 'koa',
    async start() {
      const app = new Koa();
      app.use(tgKoa.telemetry());
      const metrics = new Router();
      metrics.get('/metrics', tgKoa.metricsHandler());
      app.use(metrics.routes());
      app.use(tgKoa.rateLimit(limit));
      const router = new Router();
      router.get('/koa-hello', (ctx) => {
        ctx.body = 'hi';
      });
      const api = new Router({ prefix: '/koa-api' });
      api.get('/users/:id', (ctx) => {
        ctx.body = 'user';
      });
      app.use(router.routes()).use(api.routes());
      return listen(app.callback());
    },
  },
  {
    name: 'fastify',
    async start() {
      const app = Fastify();
      await app.register(tgFastify.telemetry);
      await app.register(tgFastify.rateLimit, limit);
      app.get('/metrics', { config: { rateLimit: false } }, tgFastify.metricsHandler());
      app.get('/fastify-hello', async () => 'hi');
      await app.register(
        async (api) => {
          api.get('/users/:id', async () => 'user');
        },
        { prefix: '/fastify-api' },
      );
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      return { url, close: () => app.close() };
    },
  },
];

async function status(url: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return res.status;
}

/** `http_server_request_duration_seconds_count` by route, for one status, from a real scrape. */
async function countsByRoute(url: string, statusCode: number): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^http_server_request_duration_seconds_count\{(.*)\} (\d+)$/.exec(line);
    if (!m || !(m[1] as string).includes(`http_response_status_code="${statusCode}"`)) continue;
    const route = /http_route="([^"]*)"/.exec(m[1] as string)?.[1] as string;
    counts[route] = (counts[route] ?? 0) + Number(m[2]);
  }
  return counts;
}

describe.each(apps)('$name: a request refused by an app-wide limiter is reported under its route', (spec) => {
  it('in http_route on /metrics and in the server span name', async () => {
    const { url, close } = await spec.start();
    try {
      const before = await countsByRoute(url, 429);
      const hello = `/${spec.name}-hello`;
      const user = `/${spec.name}-api/users/:id`;
      expect(await status(`${url}${hello}`)).toBe(200);
      expect(await status(`${url}${hello}`)).toBe(429);
      expect(await status(`${url}/${spec.name}-api/users/7`)).toBe(429);
      expect(await status(`${url}/${spec.name}-api/users/8?x=1`)).toBe(429);
      // No route for this path: still unmatched, as in every adapter.
      expect(await status(`${url}/${spec.name}-nowhere`)).toBe(429);

      const after = await countsByRoute(url, 429);
      const delta = (route: string) => (after[route] ?? 0) - (before[route] ?? 0);
      expect([delta(hello), delta(user), delta('_UNMATCHED')]).toEqual([1, 2, 1]);

      const refusedSpans = () =>
        tracing
          .spans()
          .filter((s) => s.kind === SpanKind.SERVER && s.attributes['http.response.status_code'] === 429)
          .filter((s) => String(s.attributes['url.path']).startsWith(`/${spec.name}-`));
      // A span ends when its response has gone out: allow it a moment after the client has it.
      for (let i = 0; i < 200 && refusedSpans().length < 4; i++) await new Promise((r) => setTimeout(r, 5));
      const names = refusedSpans().map((s) => s.name);
      expect(names).toEqual([`GET ${hello}`, `GET ${user}`, `GET ${user}`, 'GET']);
    } finally {
      await close();
    }
  });
});

describe('the route lookup never fails a request', () => {
  it('koa: a router whose match throws leaves the route unknown, and the 429 goes out as it is', async () => {
    const app = new Koa();
    app.silent = true;
    app.use(tgKoa.telemetry());
    const broken = Object.assign((_ctx: Koa.Context, next: Koa.Next) => next(), {
      router: {
        match() {
          throw new Error('not a router after all');
        },
      },
    });
    app.use(broken);
    app.use(tgKoa.rateLimit({ max: 1, window: '1h' }));
    const server = await listen(app.callback());
    try {
      expect([await status(`${server.url}/broken`), await status(`${server.url}/broken`)]).toEqual([404, 429]);
    } finally {
      await server.close();
    }
  });

  it('express: router internals that throw leave the route unknown instead of throwing', () => {
    // The walk reads Express internals that are not API; a future Express may differ.
    const odd = {
      get router(): never {
        throw new Error('not a router after all');
      },
    };
    expect(routeFromRouter(odd as never, 'GET', '/x')).toBeUndefined();
  });
});
