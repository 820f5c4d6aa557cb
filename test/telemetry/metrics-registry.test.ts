import Router from '@koa/router';
import { ErrorCodes, register } from '@tollgate/core';
import type { MetricsHandlerOptions } from '@tollgate/express';
import * as tgExpress from '@tollgate/express';
import * as tgFastify from '@tollgate/fastify';
import * as tgKoa from '@tollgate/koa';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { Counter, register as defaultRegistry, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { listen } from '../helpers/http.js';

/**
 * Issue 14, item 3: `metricsHandler({ registry })` serves the app's own prom-client registry
 * (or prom-client's default one) alongside tollgate's, in both formats, in every adapter.
 */
const appOwn = new Registry();
const jobs = new Counter({ name: 'app_jobs_total', help: 'Jobs done by the app.', registers: [appOwn] });
jobs.inc(3);
const orders = new Counter({ name: 'app_orders_total', help: 'Orders, in the default registry.' });
orders.inc(2);
afterAll(() => defaultRegistry.removeSingleMetric('app_orders_total'));

type Start = (options: MetricsHandlerOptions) => Promise<{ url: string; close(): Promise<void> }>;

const frameworks: Array<[string, Start]> = [
  [
    'express',
    async (options) => {
      const app = express();
      app.use(tgExpress.rateLimit({ max: 100, window: '1m', name: 'registry-test' }));
      app.get('/metrics', tgExpress.metricsHandler(options));
      return listen(app);
    },
  ],
  [
    'koa',
    async (options) => {
      const app = new Koa();
      app.silent = true;
      const router = new Router();
      router.get(
        '/metrics',
        tgKoa.rateLimit({ max: 100, window: '1m', name: 'registry-test' }),
        tgKoa.metricsHandler(options),
      );
      app.use(router.routes());
      return listen(app.callback());
    },
  ],
  [
    'fastify',
    async (options) => {
      const app = Fastify();
      await app.register(tgFastify.rateLimit, { max: 100, window: '1m', name: 'registry-test' });
      app.get('/metrics', tgFastify.metricsHandler(options));
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as { port: number };
      return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
    },
  ],
];

async function scrape(url: string, accept?: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/metrics`, accept === undefined ? {} : { headers: { accept } });
  return { status: res.status, body: await res.text() };
}

describe.each(frameworks)('%s metricsHandler({ registry })', (_name, start) => {
  it("serves the app's registries after tollgate's, in Prometheus text and in OpenMetrics", async () => {
    const app = await start({ registry: [appOwn, defaultRegistry] });
    try {
      const text = await scrape(app.url);
      expect(text.status).toBe(200);
      expect(text.body).toContain('tollgate_ratelimit_decisions_total{limiter="registry-test"');
      expect(text.body).toContain('app_jobs_total 3');
      expect(text.body).toContain('app_orders_total 2');
      expect(text.body.indexOf('tollgate_ratelimit_decisions_total')).toBeLessThan(text.body.indexOf('app_jobs_total'));
      const open = await scrape(app.url, 'application/openmetrics-text;version=1.0.0');
      expect(open.body).toContain('# TYPE app_jobs counter');
      expect(open.body).toContain('app_orders_total 2');
      expect(open.body.match(/# EOF/g)).toHaveLength(1);
      expect(open.body.endsWith('# EOF\n')).toBe(true);
    } finally {
      await app.close();
    }
  });

  it("serves tollgate's own register once when it is given as the app's", async () => {
    const app = await start({ registry: register });
    try {
      const { body } = await scrape(app.url);
      expect(body.match(/^# TYPE tollgate_ratelimit_decisions_total /gm)).toHaveLength(1);
    } finally {
      await app.close();
    }
  });
});

describe('metricsHandler({ registry }) refusals', () => {
  it('refuses something that is not a registry, naming the option', () => {
    expect(() => tgExpress.metricsHandler({ registry: {} as Registry })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'registry' }),
    );
    expect(() => tgExpress.metricsHandler({ registry: [] })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'registry' }),
    );
    expect(() => tgExpress.metricsHandler({ nope: 1 } as MetricsHandlerOptions)).toThrow(
      expect.objectContaining({ code: ErrorCodes.UNKNOWN_OPTION }),
    );
  });

  it('fails a scrape where two registries hold one family name (TOLLGATE_METRIC_CONFLICT), not a duplicate family', async () => {
    const clash = new Registry();
    new Counter({ name: 'tollgate_ratelimit_decisions_total', help: 'Not ours.', registers: [clash] });
    const { scrapeMetrics } = await import('@tollgate/core/adapter');
    await expect(scrapeMetrics(undefined, [clash])).rejects.toThrow(
      expect.objectContaining({ code: ErrorCodes.METRIC_CONFLICT }),
    );
  });
});
