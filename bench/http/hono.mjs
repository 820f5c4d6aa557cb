// Hono 4 servers on @hono/node-server: bare, and bare plus one contender.
import { HELLO, limits, redisClient, requireRoot, setupOtel, setupTollgateTracing } from './common.mjs';

/** Contender name -> (app, ctx) => void, mounting it before the route. */
const CONTENDERS = {
  bare() {},

  async 'tollgate-memory'(app, { limited }) {
    const { rateLimit } = await import('@tollgate/hono');
    const { max } = limits(limited);
    app.use(rateLimit({ max, window: '1h', ...trust(limited) }));
  },

  async 'tollgate-redis'(app, { limited, redisUrl }) {
    const { rateLimit, RedisStore } = await import('@tollgate/hono');
    const { max } = limits(limited);
    const store = new RedisStore({ client: await redisClient(redisUrl) });
    app.use(rateLimit({ max, window: '1h', store, ...trust(limited) }));
  },

  // hono-rate-limiter as its README shows it: draft-7 headers, keyed by the client address
  // (the socket's on Node.js; behind the bench's trusted loopback proxy, X-Forwarded-For's last hop).
  async 'hono-rate-limiter-memory'(app, { limited }) {
    const { rateLimiter } = await import('hono-rate-limiter');
    const { max, windowMs } = limits(limited);
    app.use(rateLimiter({ windowMs, limit: max, standardHeaders: 'draft-7', keyGenerator: clientOf(limited) }));
  },

  async 'hono-rate-limiter-redis'(app, { limited, redisUrl }) {
    const { rateLimiter, RedisStore } = await import('hono-rate-limiter');
    const client = await redisClient(redisUrl);
    const { max, windowMs } = limits(limited);
    app.use(
      rateLimiter({
        windowMs,
        limit: max,
        standardHeaders: 'draft-7',
        keyGenerator: clientOf(limited),
        store: new RedisStore({ client: ioredisAsUpstash(client) }),
      }),
    );
  },

  async 'rate-limiter-flexible-memory'(app, { limited }) {
    const { RateLimiterMemory } = await import('rate-limiter-flexible');
    const { max, windowSeconds } = limits(limited);
    app.use(flexibleMiddleware(new RateLimiterMemory({ points: max, duration: windowSeconds }), clientOf(limited)));
  },

  async 'rate-limiter-flexible-redis'(app, { limited, redisUrl }) {
    const { RateLimiterRedis } = await import('rate-limiter-flexible');
    const { max, windowSeconds } = limits(limited);
    const storeClient = await redisClient(redisUrl);
    const limiter = new RateLimiterRedis({
      storeClient,
      keyPrefix: 'middleware',
      points: max,
      duration: windowSeconds,
    });
    app.use(flexibleMiddleware(limiter, clientOf(limited)));
  },

  async 'tollgate-telemetry'(app, _ctx, stats) {
    await setupTollgateTracing(stats);
    const { telemetry } = await import('@tollgate/hono');
    app.use(telemetry());
  },

  async 'tollgate-metrics'(app) {
    const { telemetry } = await import('@tollgate/hono');
    app.use(telemetry());
  },

  otel() {},
};

/** The limited runs come through a trusted loopback proxy that appends X-Forwarded-For. */
function trust(limited) {
  return limited ? { trustProxy: 1 } : {};
}

/** The client as the peers see it: X-Forwarded-For's last hop in limited runs, the socket otherwise. */
function clientOf(limited) {
  return (c) => {
    if (limited) return c.req.header('x-forwarded-for')?.split(',').at(-1)?.trim() ?? '';
    return c.env.incoming.socket.remoteAddress ?? '';
  };
}

/** hono-rate-limiter's RedisStore speaks the @upstash/redis client shape (scriptLoad, evalsha, decr, del): ioredis behind it. */
function ioredisAsUpstash(client) {
  return {
    scriptLoad: (script) => client.script('LOAD', script),
    evalsha: (sha, keys, args) => client.evalsha(sha, keys.length, ...keys, ...args),
    decr: (key) => client.decr(key),
    del: (key) => client.del(key),
  };
}

function flexibleMiddleware(limiter, keyOf) {
  return async (c, next) => {
    try {
      await limiter.consume(keyOf(c));
    } catch {
      return c.text('Too Many Requests', 429);
    }
    await next();
  };
}

export const contenders = Object.keys(CONTENDERS);

export async function build(name, ctx, stats) {
  if (name === 'otel') {
    // No instrumentation for Hono itself in the bench's set: the HTTP one sees @hono/node-server's requests.
    await setupOtel(stats, async () => {
      const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
      return [new HttpInstrumentation()];
    });
  }
  const { Hono } = requireRoot('hono');
  const { createAdaptorServer } = requireRoot('@hono/node-server');
  const app = new Hono();
  await CONTENDERS[name](app, ctx, stats);
  app.get('/hello', (c) => c.json(HELLO));
  return {
    listen: () =>
      new Promise((resolve, reject) => {
        const server = createAdaptorServer({ fetch: app.fetch });
        server.listen(0, '127.0.0.1', () => resolve(server));
        server.on('error', reject);
      }),
  };
}
