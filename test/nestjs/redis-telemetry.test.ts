import { Controller, Get, Module, Req, Res } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { RedisStore, register } from '@tollgate/core';
import { metricsHandler, RateLimit, RateLimitGuard, SkipRateLimit, TollgateModule } from '@tollgate/nestjs';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { clusterClient, REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { closeNestApps, decorate, param, platforms, startNest } from './support.js';

afterEach(closeNestApps);

const client = redis.server ? new Redis(REDIS_URL) : undefined;
const cluster = redis.clusterNodes.length > 0 ? await clusterClient() : undefined;
afterAll(async () => {
  client?.disconnect();
  await cluster?.quit();
});

/** GET /orders/:id under a per-handler limit; GET /metrics, exempt. */
function controllers() {
  class OrdersController {
    one(req: { params: { id: string } }) {
      return { id: req.params.id };
    }
  }
  decorate(OrdersController, { one: [Get(':id'), param(Req(), 0), RateLimit({ max: 2, window: '1h' })] }, [
    Controller('orders'),
  ]);
  class MetricsController {
    private readonly metrics = metricsHandler();
    scrape(req: never, res: never) {
      return this.metrics(req, res);
    }
  }
  decorate(MetricsController, { scrape: [Get('metrics'), SkipRateLimit(), param(Req(), 0), param(Res(), 1)] }, [
    Controller(),
  ]);
  return [OrdersController, MetricsController];
}

const stores = [
  { name: 'Redis', client: () => client, enabled: client !== undefined },
  { name: 'Redis Cluster', client: () => cluster, enabled: cluster !== undefined },
];

for (const platform of platforms) {
  for (const kind of stores) {
    describe.skipIf(!kind.enabled)(`@tollgate/nestjs on platform-${platform}, ${kind.name}`, () => {
      it('two instances built by forRootAsync share one bucket per handler, as a fleet does', async () => {
        const prefix = uniquePrefix('nest').replace(/[^A-Za-z0-9_.-]/g, '_');
        const STORE = 'STORE';
        class StoreModule {}
        Module({
          providers: [{ provide: STORE, useFactory: () => new RedisStore({ client: kind.client() as Redis }) }],
          exports: [STORE],
        })(StoreModule);
        const instance = () =>
          startNest(platform, {
            imports: [
              TollgateModule.forRootAsync({
                imports: [StoreModule],
                inject: [STORE],
                useFactory: (store: RedisStore) => ({ store, prefix }),
              }),
            ],
            controllers: controllers(),
            providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
          });
        const [a, b] = [await instance(), await instance()];
        expect((await fetch(`${a.url}/orders/1`)).status).toBe(200);
        expect((await fetch(`${b.url}/orders/2`)).status).toBe(200);
        const refused = await fetch(`${a.url}/orders/3`);
        expect(refused.status).toBe(429);
        expect(refused.headers.get('ratelimit-policy')).toBe('"OrdersController.one";q=2;w=3600');
        expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      });
    });
  }

  describe(`telemetry on platform-${platform}`, () => {
    it('records the duration by route template, refused requests included, and metricsHandler serves it', async () => {
      const { url } = await startNest(platform, {
        imports: [TollgateModule.forRoot({ telemetry: true })],
        controllers: controllers(),
        providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
      });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${url}/orders/${i}?token=secret`)).status);
      expect(statuses).toEqual([200, 200, 429]);
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await res.text();
      const series = text
        .split('\n')
        .filter((line) => line.startsWith('http_server_request_duration_seconds_count') && line.includes('/orders'));
      expect(
        series.some(
          (line) => line.includes('http_route="/orders/:id"') && line.includes('http_response_status_code="429"'),
        ),
      ).toBe(true);
      expect(
        series.some(
          (line) => line.includes('http_route="/orders/:id"') && line.includes('http_response_status_code="200"'),
        ),
      ).toBe(true);
      expect(text).not.toContain('/orders/1');
      expect(text).not.toContain('secret');
      const open = await fetch(`${url}/metrics`, {
        headers: { accept: 'application/openmetrics-text; version=1.0.0' },
      });
      expect(open.headers.get('content-type')).toMatch(/^application\/openmetrics-text/);
      register.resetMetrics();
    });
  });
}
