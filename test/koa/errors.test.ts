import { ErrorCodes, rateLimit, TollgateError } from '@tollgate/koa';
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import {
  brokenStore,
  closeServersAfterEach,
  counting,
  get,
  manualClock,
  quietLogger,
  rateLimitHeaderNames,
  serveKoa,
} from './support.js';

closeServersAfterEach();

/** An app whose errors are collected through app.on('error') instead of printed. */
function appCollectingErrors() {
  const app = new Koa();
  const errors: unknown[] = [];
  app.on('error', (error: unknown) => {
    errors.push(error);
  });
  return { app, errors };
}

describe("errors reach Koa's error handling", () => {
  it('a throwing key function gives 500 through app.on("error"); downstream does not run', async () => {
    const { store } = manualClock();
    const { app, errors } = appCollectingErrors();
    const route = counting();
    app.use(
      rateLimit({
        max: 5,
        window: '1m',
        store,
        key: () => {
          throw new Error('no session');
        },
      }),
    );
    app.use(route.handler);
    const r = await get(await serveKoa(app));
    expect(r.status).toBe(500);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('no session');
    expect(route.calls()).toBe(0);
  });

  it('an async key function that rejects is caught by a try/catch middleware upstream', async () => {
    const { store } = manualClock();
    const app = new Koa();
    const caught: unknown[] = [];
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        caught.push(error);
        ctx.status = 500;
        ctx.body = { error: 'caught' };
      }
    });
    app.use(
      rateLimit({
        max: 5,
        window: '1m',
        store,
        key: async () => {
          await new Promise((resolve) => setImmediate(resolve));
          throw new Error('lookup failed');
        },
      }),
    );
    app.use((ctx) => {
      ctx.body = 'unreachable';
    });
    const r = await get(await serveKoa(app));
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ error: 'caught' });
    expect((caught[0] as Error).message).toBe('lookup failed');
  });

  it('a key function returning an empty string throws a coded TollgateError into the chain', async () => {
    const { app, errors } = appCollectingErrors();
    app.use(rateLimit({ max: 5, window: '1m', key: () => '' }));
    app.use((ctx) => {
      ctx.body = 'unreachable';
    });
    const r = await get(await serveKoa(app));
    expect(r.status).toBe(500);
    expect(errors[0]).toBeInstanceOf(TollgateError);
    expect((errors[0] as TollgateError).code).toBe(ErrorCodes.INVALID_KEY);
  });

  it('a throwing 429 handler gives 500, not a hang, and the error reaches app.on("error")', async () => {
    const { store } = manualClock();
    const { app, errors } = appCollectingErrors();
    app.use(
      rateLimit({
        max: 1,
        window: '1m',
        store,
        handler: async () => {
          throw new Error('handler broke');
        },
      }),
    );
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const url = await serveKoa(app);
    expect((await get(url)).status).toBe(200);
    const r = await get(url);
    expect(r.status).toBe(500);
    expect(r.text).not.toContain('handler broke');
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('handler broke');
  });

  it('an error from the route after an allowed request is not swallowed by the limiter', async () => {
    const { store } = manualClock();
    const { app, errors } = appCollectingErrors();
    const teapot = Object.assign(new Error('teapot'), { status: 418, expose: true });
    app.use(rateLimit({ max: 5, window: '1m', store }));
    app.use(() => {
      throw teapot;
    });
    const r = await get(await serveKoa(app));
    expect(r.status).toBe(418);
    expect(r.text).toBe('teapot');
    expect(errors).toEqual([teapot]);
  });
});

describe("failMode 'closed' with a store that throws", () => {
  it('answers 503 with Retry-After and a problem body; nothing downstream runs; no quota headers', async () => {
    const store = brokenStore();
    const { lines, logger } = quietLogger();
    const app = new Koa();
    let downstream = 0;
    let handled = 0;
    app.use(
      rateLimit({
        max: 5,
        window: '1m',
        store,
        failMode: 'closed',
        logger,
        handler: () => {
          handled += 1;
        },
      }),
    );
    app.use((ctx) => {
      downstream += 1;
      ctx.body = 'ok';
    });
    const r = await get(await serveKoa(app));
    expect(r.status).toBe(503);
    const retryAfter = Number(r.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json(;|$)/);
    expect(r.json).toMatchObject({ status: 503 });
    expect(r.json?.type).not.toBe('https://iana.org/assignments/http-problem-types#quota-exceeded');
    expect(rateLimitHeaderNames(r.headers)).toEqual([]);
    expect(downstream).toBe(0);
    expect(handled).toBe(0);
    expect(store.calls).toBe(1);
    expect(lines).toContain('rate limit store failed');
  });

  it("failMode 'local' with the same store keeps serving and limiting", async () => {
    const { logger } = quietLogger();
    const app = new Koa();
    app.use(rateLimit({ max: 1, window: '1h', store: brokenStore(), failMode: 'local', logger }));
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const url = await serveKoa(app);
    expect((await get(url)).status).toBe(200);
    expect((await get(url)).status).toBe(429);
  });
});
