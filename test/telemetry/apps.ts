import Router from '@koa/router';
import { traceSpan } from '@tollgate/core';
import * as tgExpress from '@tollgate/express';
import * as tgFastify from '@tollgate/fastify';
import * as tgFetch from '@tollgate/fetch';
import * as tgHono from '@tollgate/hono';
import * as tgKoa from '@tollgate/koa';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import { forEachFramework } from '../frameworks.js';
import { type NodeBindings, serveFetch } from '../helpers/fetch-server.js';
import { listen } from '../helpers/http.js';
import { nestTelemetryApp } from '../nestjs/telemetry-app.js';

/**
 * The same app in each framework: telemetry first, then a rate limit, then
 * GET /users/:id (200, with a child span), GET /teapot (418), GET /boom (throws), GET /metrics.
 */
export interface TelemetryApp {
  name: string;
  start(): Promise<{ url: string; close(): Promise<void> }>;
}

const limit = { max: 1_000_000, window: '1h', name: 'telemetry-test' } as const;
const child = () => traceSpan('load user', { 'app.user.lookup': true }, () => ({ id: 42 }));

/** Every framework in frameworks.json, in its order: a framework in the list needs its app here. */
export const telemetryApps: TelemetryApp[] = forEachFramework<Omit<TelemetryApp, 'name'>>('test/telemetry/apps.ts', {
  express: {
    async start() {
      const app = express();
      app.use(tgExpress.telemetry());
      app.get('/metrics', tgExpress.metricsHandler());
      app.use(tgExpress.rateLimit(limit));
      const users = express.Router();
      users.get('/:id', (_req, res) => {
        res.json(child());
      });
      app.use('/users', users);
      app.get('/teapot', (_req, res) => {
        res.status(418).send('short and stout');
      });
      app.get('/boom', () => {
        throw new Error('boom');
      });
      const server = await listen(app);
      return { url: server.url, close: server.close };
    },
  },
  koa: {
    async start() {
      const app = new Koa();
      app.silent = true;
      app.use(tgKoa.telemetry());
      const router = new Router();
      router.get('/metrics', tgKoa.metricsHandler());
      router.get('/users/:id', tgKoa.rateLimit(limit), (ctx) => {
        ctx.body = child();
      });
      router.get('/teapot', (ctx) => {
        ctx.status = 418;
        ctx.body = 'short and stout';
      });
      router.get('/boom', () => {
        throw new Error('boom');
      });
      app.use(router.routes());
      const server = await listen(app.callback());
      return { url: server.url, close: server.close };
    },
  },
  fastify: {
    async start() {
      const app = Fastify();
      await app.register(tgFastify.telemetry);
      await app.register(tgFastify.rateLimit, limit);
      app.get('/metrics', { config: { rateLimit: false } }, tgFastify.metricsHandler());
      app.get('/users/:id', async () => child());
      app.get('/teapot', async (_request, reply) => reply.code(418).send('short and stout'));
      app.get('/boom', async () => {
        throw new Error('boom');
      });
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      return { url, close: () => app.close() };
    },
  },
  hono: {
    async start() {
      const app = new Hono();
      app.use(tgHono.telemetry());
      app.get('/metrics', tgHono.metricsHandler());
      app.use(tgHono.rateLimit(limit));
      app.get('/users/:id', (c) => c.json(child()));
      app.get('/teapot', (c) => c.text('short and stout', 418));
      app.get('/boom', () => {
        throw new Error('boom');
      });
      const server = await serveFetch(app.fetch);
      return { url: server.url, close: server.close };
    },
  },
  fetch: {
    async start() {
      // Route handlers as a file-based router (Next.js) has them: one per route template, each
      // wrapped in telemetry() naming its route, then the app-wide limit.
      const limited = tgFetch.rateLimit(limit);
      const traced = (route: string, handler: (request: Request) => Response) =>
        tgFetch.telemetry({ route })(limited((request: Request, _env: NodeBindings) => handler(request)));
      const routes: Array<[RegExp, (request: Request, env: NodeBindings) => Response | Promise<Response>]> = [
        [/^\/metrics$/, tgFetch.metricsHandler()],
        [/^\/users\/[^/]+$/, traced('/users/:id', () => Response.json(child()))],
        [/^\/teapot$/, traced('/teapot', () => new Response('short and stout', { status: 418 }))],
        [
          /^\/boom$/,
          traced('/boom', () => {
            throw new Error('boom');
          }),
        ],
      ];
      // No route: still traced and limited, labelled as unmatched.
      const notFound = tgFetch.telemetry()(
        limited((_request: Request, _env: NodeBindings) => new Response('', { status: 404 })),
      );
      const server = await serveFetch((request, env) => {
        const { pathname } = new URL(request.url);
        const route = routes.find(([pattern]) => pattern.test(pathname))?.[1] ?? notFound;
        return route(request, env);
      });
      return { url: server.url, close: server.close };
    },
  },
  // NestJS on platform-express; its platform-fastify app runs too, after the list.
  nestjs: { start: nestTelemetryApp('express', limit, child) },
}).concat({ name: 'nestjs (platform-fastify)', start: nestTelemetryApp('fastify', limit, child) });
