import { createRequire } from 'node:module';
import { rateLimit } from '@tollgate/koa';
import Koa2 from 'koa2';
import { describe, expect, it } from 'vitest';
import { closeServersAfterEach, counting, getMany, manualClock, QUOTA_EXCEEDED, serveKoa } from './support.js';

closeServersAfterEach();

describe('Koa 2', () => {
  it('is really Koa 2', () => {
    const version = createRequire(import.meta.url)('koa2/package.json').version as string;
    expect(version).toMatch(/^2\./);
  });

  it('lets allowed requests through with the RateLimit fields, and refuses the next with a problem 429', async () => {
    const { store } = manualClock();
    const app = new Koa2();
    const route = counting();
    let downstream = 0;
    app.use(rateLimit({ max: 2, window: '1m', store, name: 'k2' }));
    app.use(async (_ctx, next) => {
      downstream += 1;
      await next();
    });
    app.use(route.handler);
    const replies = await getMany(3, await serveKoa(app));

    expect(replies.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(replies.map((r) => r.json?.call)).toEqual([1, 2, undefined]);
    expect(replies.map((r) => r.headers.get('ratelimit'))).toEqual(['"k2";r=1;t=30', '"k2";r=0;t=60', '"k2";r=0;t=60']);
    for (const r of replies) expect(r.headers.get('ratelimit-policy')).toBe('"k2";q=2;w=60');

    const refused = replies[2];
    expect(refused?.headers.get('retry-after')).toBe('30');
    expect(refused?.headers.get('content-type')).toMatch(/^application\/problem\+json(;|$)/);
    expect(refused?.json).toMatchObject({ type: QUOTA_EXCEEDED, status: 429, 'violated-policies': ['k2'] });
    expect(downstream).toBe(2);
    expect(route.calls()).toBe(2);
  });

  it('honours app.proxy like Koa 3', async () => {
    const { store } = manualClock();
    const app = new Koa2();
    app.proxy = true;
    app.use(rateLimit({ max: 1, window: '1m', store }));
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const url = await serveKoa(app);
    const statuses = [];
    for (const ip of ['203.0.113.1', '198.51.100.7', '203.0.113.1']) {
      statuses.push((await getMany(1, url, { 'x-forwarded-for': ip }))[0]?.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });
});
