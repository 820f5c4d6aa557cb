// Koa 3 servers (with @koa/router): bare, and bare plus one contender.
import { HELLO, limits, redisClient, requireRoot, setupOtel, setupTollgateTracing } from './common.mjs';

const CONTENDERS = {
  bare() {},

  async 'tollgate-memory'(app, { limited }) {
    const { rateLimit } = await import('@tollgate/koa');
    const { max } = limits(limited);
    app.use(rateLimit({ max, window: '1h' }));
  },

  async 'tollgate-redis'(app, { limited, redisUrl }) {
    const { rateLimit, RedisStore } = await import('@tollgate/koa');
    const { max } = limits(limited);
    app.use(rateLimit({ max, window: '1h', store: new RedisStore({ client: await redisClient(redisUrl) }) }));
  },

  // Like for like (issue 18 item 2): tollgate configured as a peer is, headers included.
  async 'tollgate-memory-noheaders'(app, { limited }) {
    const { rateLimit } = await import('@tollgate/koa');
    app.use(rateLimit({ max: limits(limited).max, window: '1h', headers: false }));
  },

  async 'tollgate-redis-noheaders'(app, { limited, redisUrl }) {
    const { rateLimit, RedisStore } = await import('@tollgate/koa');
    const store = new RedisStore({ client: await redisClient(redisUrl) });
    app.use(rateLimit({ max: limits(limited).max, window: '1h', headers: false, store }));
  },

  async 'tollgate-memory-legacy'(app, { limited }) {
    const { rateLimit } = await import('@tollgate/koa');
    app.use(rateLimit({ max: limits(limited).max, window: '1h', headers: 'legacy' }));
  },

  async 'tollgate-redis-legacy'(app, { limited, redisUrl }) {
    const { rateLimit, RedisStore } = await import('@tollgate/koa');
    const store = new RedisStore({ client: await redisClient(redisUrl) });
    app.use(rateLimit({ max: limits(limited).max, window: '1h', headers: 'legacy', store }));
  },

  // koa-ratelimit as its README shows it (the memory driver needs a Map it keeps).
  async 'koa-ratelimit-memory'(app, { limited }) {
    const { default: ratelimit } = await import('koa-ratelimit');
    const { max, windowMs } = limits(limited);
    app.use(ratelimit({ driver: 'memory', db: new Map(), duration: windowMs, max, id: (ctx) => ctx.ip }));
  },

  async 'koa-ratelimit-redis'(app, { limited, redisUrl }) {
    const { default: ratelimit } = await import('koa-ratelimit');
    const { max, windowMs } = limits(limited);
    const db = await redisClient(redisUrl);
    app.use(ratelimit({ driver: 'redis', db, duration: windowMs, max, id: (ctx) => ctx.ip }));
  },

  async 'rate-limiter-flexible-memory'(app, { limited }) {
    const { RateLimiterMemory } = await import('rate-limiter-flexible');
    const { max, windowSeconds } = limits(limited);
    app.use(flexibleMiddleware(new RateLimiterMemory({ points: max, duration: windowSeconds })));
  },

  async 'rate-limiter-flexible-redis'(app, { limited, redisUrl }) {
    const { RateLimiterRedis } = await import('rate-limiter-flexible');
    const { max, windowSeconds } = limits(limited);
    const storeClient = await redisClient(redisUrl);
    app.use(
      flexibleMiddleware(
        new RateLimiterRedis({ storeClient, keyPrefix: 'middleware', points: max, duration: windowSeconds }),
      ),
    );
  },

  async 'tollgate-telemetry'(app, _ctx, stats) {
    await setupTollgateTracing(stats);
    const { telemetry } = await import('@tollgate/koa');
    app.use(telemetry());
  },

  async 'tollgate-metrics'(app) {
    const { telemetry } = await import('@tollgate/koa');
    app.use(telemetry());
  },

  otel() {},
};

function flexibleMiddleware(limiter) {
  return async (ctx, next) => {
    try {
      await limiter.consume(ctx.ip);
    } catch {
      ctx.status = 429;
      ctx.body = 'Too Many Requests';
      return;
    }
    await next();
  };
}

export const contenders = Object.keys(CONTENDERS);

export async function build(name, ctx, stats) {
  if (name === 'otel') {
    await setupOtel(stats, async () => {
      const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
      const { KoaInstrumentation } = await import('@opentelemetry/instrumentation-koa');
      return [new HttpInstrumentation(), new KoaInstrumentation()];
    });
  }
  const Koa = requireRoot('koa');
  const { Router } = requireRoot('@koa/router');
  const app = new Koa();
  if (ctx.limited) app.proxy = true;
  await CONTENDERS[name](app, ctx, stats);
  const router = new Router();
  router.get('/hello', (c) => {
    c.body = HELLO;
  });
  app.use(router.routes());
  return {
    listen: () =>
      new Promise((resolve, reject) => {
        const server = app.listen(0, '127.0.0.1', () => resolve(server));
        server.on('error', reject);
      }),
  };
}
