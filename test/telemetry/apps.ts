import Router from '@koa/router';
import { traceSpan } from '@tollgate/core';
import * as tgExpress from '@tollgate/express';
import * as tgFastify from '@tollgate/fastify';
import * as tgKoa from '@tollgate/koa';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { forEachFramework } from '../frameworks.js';
import { listen } from '../helpers/http.js';

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
});
