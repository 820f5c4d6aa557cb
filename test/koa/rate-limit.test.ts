import Router from '@koa/router';
import { rateLimit } from '@tollgate/koa';
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import {
  closeServersAfterEach,
  counting,
  get,
  getMany,
  manualClock,
  QUOTA_EXCEEDED,
  rateLimitHeaderNames,
  serveKoa,
  storeKeys,
} from './support.js';

closeServersAfterEach();

describe('per-route limiting with @koa/router', () => {
  async function routedApp() {
    const { store } = manualClock();
    const app = new Koa();
    const router = new Router();
    const limited = counting();
    const free = counting();
    router.get('/x', rateLimit({ max: 2, window: '1m', store, name: 'x' }), limited.handler);
    router.get('/y', free.handler);
    app.use(router.routes()).use(router.allowedMethods());
    return { base: await serveKoa(app), limited, free, store };
  }

  it('limits the route it is mounted on', async () => {
    const { base, limited } = await routedApp();
    const replies = await getMany(3, `${base}/x`);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(replies.map((r) => r.headers.get('ratelimit'))).toEqual(['"x";r=1;t=30', '"x";r=0;t=60', '"x";r=0;t=60']);
    expect(replies[2]?.headers.get('retry-after')).toBe('30');
    expect(replies[2]?.json).toMatchObject({ type: QUOTA_EXCEEDED, status: 429, 'violated-policies': ['x'] });
    expect(limited.calls()).toBe(2);
  });

  it('leaves the other routes alone: no headers, no limit, even while the limited route refuses', async () => {
    const { base, limited, free, store } = await routedApp();
    await getMany(3, `${base}/x`);
    const replies = await getMany(5, `${base}/y`);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    for (const r of replies) expect(rateLimitHeaderNames(r.headers)).toEqual([]);
    expect(free.calls()).toBe(5);
    expect(limited.calls()).toBe(2);
    // Only the limited route's requests reached the store.
    expect(storeKeys(store)).toHaveLength(1);
  });

  it('two routes with their own limiters keep separate buckets', async () => {
    const { store } = manualClock();
    const app = new Koa();
    const router = new Router();
    const a = counting();
    const b = counting();
    router.get('/a', rateLimit({ max: 1, window: '1m', store, name: 'a' }), a.handler);
    router.get('/b', rateLimit({ max: 1, window: '1m', store, name: 'b' }), b.handler);
    app.use(router.routes());
    const base = await serveKoa(app);
    expect((await get(`${base}/a`)).status).toBe(200);
    expect((await get(`${base}/b`)).status).toBe(200);
    expect((await get(`${base}/a`)).json?.['violated-policies']).toEqual(['a']);
    expect((await get(`${base}/b`)).json?.['violated-policies']).toEqual(['b']);
    expect([a.calls(), b.calls()]).toEqual([1, 1]);
  });
});

describe('the middleware chain', () => {
  it('does not call downstream middleware on a 429, while upstream middleware sees the 429 after next()', async () => {
    const { store } = manualClock();
    const app = new Koa();
    const seenUpstream: number[] = [];
    let downstream = 0;
    const route = counting();
    app.use(async (ctx, next) => {
      await next();
      seenUpstream.push(ctx.status);
    });
    app.use(rateLimit({ max: 2, window: '1m', store }));
    app.use(async (_ctx, next) => {
      downstream += 1;
      await next();
    });
    app.use(route.handler);
    const url = await serveKoa(app);

    const replies = await getMany(4, url);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 429, 429]);
    expect(downstream).toBe(2);
    expect(route.calls()).toBe(2);
    expect(seenUpstream).toEqual([200, 200, 429, 429]);
  });

  it('waits for downstream middleware: the headers are set before the handler runs and survive it', async () => {
    const { store } = manualClock();
    const app = new Koa();
    let seenByHandler: string | undefined;
    app.use(rateLimit({ max: 5, window: '1m', store }));
    app.use(async (ctx) => {
      await new Promise((resolve) => setImmediate(resolve));
      seenByHandler = ctx.response.get('RateLimit');
      ctx.body = 'done';
    });
    const r = await get(await serveKoa(app));
    expect(r.status).toBe(200);
    expect(r.text).toBe('done');
    expect(seenByHandler).toBe('"5-per-1m";r=4;t=12');
    expect(r.headers.get('ratelimit')).toBe('"5-per-1m";r=4;t=12');
  });
});

describe('a custom handler(ctx, decision)', () => {
  it('shapes the 429: its body and headers are sent, the status stays 429, the RateLimit fields are present', async () => {
    const { store } = manualClock();
    const app = new Koa();
    const route = counting();
    const decisions: Array<{ allowed: boolean; remaining: number; retryAfterMs: number }> = [];
    app.use(
      rateLimit({
        max: 1,
        window: '1m',
        store,
        name: 'custom',
        handler: async (ctx, decision) => {
          decisions.push(decision);
          await new Promise((resolve) => setImmediate(resolve));
          ctx.set('X-Custom', 'yes');
          ctx.body = { error: 'slow down', retryInMs: decision.retryAfterMs };
        },
      }),
    );
    app.use(route.handler);
    const url = await serveKoa(app);

    const [ok, refused] = await getMany(2, url);
    expect(ok?.status).toBe(200);
    expect(refused?.status).toBe(429);
    expect(refused?.json).toEqual({ error: 'slow down', retryInMs: 60_000 });
    expect(refused?.headers.get('content-type')).toMatch(/^application\/json/);
    expect(refused?.headers.get('x-custom')).toBe('yes');
    expect(refused?.headers.get('retry-after')).toBe('60');
    expect(refused?.headers.get('ratelimit-policy')).toBe('"custom";q=1;w=60');
    expect(refused?.headers.get('ratelimit')).toBe('"custom";r=0;t=60');
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 60_000 });
    expect(route.calls()).toBe(1);
  });

  it('is not called for allowed requests, and a handler that sets no body still answers 429', async () => {
    const { store } = manualClock();
    const app = new Koa();
    let handled = 0;
    app.use(
      rateLimit({
        max: 1,
        window: '1m',
        store,
        handler: () => {
          handled += 1;
        },
      }),
    );
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const url = await serveKoa(app);
    const ok = await get(url);
    expect(ok.status).toBe(200);
    expect(handled).toBe(0);
    const refused = await get(url);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(handled).toBe(1);
  });
});

describe('mw.limiter', () => {
  it("reset('127.0.0.1') lets a refused loopback client in again", async () => {
    const { store } = manualClock();
    const app = new Koa();
    const route = counting();
    const mw = rateLimit({ max: 1, window: '1h', store });
    app.use(mw);
    app.use(route.handler);
    const url = await serveKoa(app);

    expect((await getMany(2, url)).map((r) => r.status)).toEqual([200, 429]);
    expect((await mw.limiter.peek('127.0.0.1')).remaining).toBe(0);

    await mw.limiter.reset('127.0.0.1');
    expect((await mw.limiter.peek('127.0.0.1')).remaining).toBe(1);
    const again = await get(url);
    expect(again.status).toBe(200);
    expect(again.headers.get('ratelimit')).toBe('"1-per-1h";r=0;t=3600');
    expect(route.calls()).toBe(2);
  });

  it('resetting another key leaves the client refused', async () => {
    const { store } = manualClock();
    const app = new Koa();
    const mw = rateLimit({ max: 1, window: '1h', store });
    app.use(mw);
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const url = await serveKoa(app);
    await get(url);
    await mw.limiter.reset('127.0.0.2');
    expect((await get(url)).status).toBe(429);
  });
});
