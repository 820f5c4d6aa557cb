// Fastify 5 servers: bare, and bare plus one contender.
import { HELLO, limits, redisClient, requireRoot, setupOtel, setupTollgateTracing } from './common.mjs';

const CONTENDERS = {
  bare() {},

  async 'tollgate-memory'(app, { limited }) {
    const { rateLimit } = await import('@tollgate/fastify');
    const { max } = limits(limited);
    await app.register(rateLimit, { max, window: '1h' });
  },

  async 'tollgate-redis'(app, { limited, redisUrl }) {
    const { rateLimit, RedisStore } = await import('@tollgate/fastify');
    const { max } = limits(limited);
    await app.register(rateLimit, {
      max,
      window: '1h',
      store: new RedisStore({ client: await redisClient(redisUrl) }),
    });
  },

  // Like for like (issue 18 item 2): tollgate configured as a peer is, headers included.
  async 'tollgate-memory-noheaders'(app, { limited }) {
    const { rateLimit } = await import('@tollgate/fastify');
    await app.register(rateLimit, { max: limits(limited).max, window: '1h', headers: false });
  },

  async 'tollgate-redis-noheaders'(app, { limited, redisUrl }) {
    const { rateLimit, RedisStore } = await import('@tollgate/fastify');
    const store = new RedisStore({ client: await redisClient(redisUrl) });
    await app.register(rateLimit, { max: limits(limited).max, window: '1h', headers: false, store });
  },

  async 'tollgate-memory-legacy'(app, { limited }) {
    const { rateLimit } = await import('@tollgate/fastify');
    await app.register(rateLimit, { max: limits(limited).max, window: '1h', headers: 'legacy' });
  },

  async 'tollgate-redis-legacy'(app, { limited, redisUrl }) {
    const { rateLimit, RedisStore } = await import('@tollgate/fastify');
    const store = new RedisStore({ client: await redisClient(redisUrl) });
    await app.register(rateLimit, { max: limits(limited).max, window: '1h', headers: 'legacy', store });
  },

  // Before coalescing (issue 18 item 1): one script call per decision, for CPU and p99 side by side.
  async 'tollgate-redis-uncoalesced'(app, { limited, redisUrl }) {
    const { rateLimit, RedisStore } = await import('@tollgate/fastify');
    const store = new RedisStore({ client: await redisClient(redisUrl), coalesce: false });
    await app.register(rateLimit, { max: limits(limited).max, window: '1h', store });
  },

  async 'fastify-rate-limit-memory'(app, { limited }) {
    const { default: fastifyRateLimit } = await import('@fastify/rate-limit');
    const { max, windowMs } = limits(limited);
    await app.register(fastifyRateLimit, { max, timeWindow: windowMs });
  },

  async 'fastify-rate-limit-redis'(app, { limited, redisUrl }) {
    const { default: fastifyRateLimit } = await import('@fastify/rate-limit');
    const { max, windowMs } = limits(limited);
    await app.register(fastifyRateLimit, { max, timeWindow: windowMs, redis: await redisClient(redisUrl) });
  },

  async 'rate-limiter-flexible-memory'(app, { limited }) {
    const { RateLimiterMemory } = await import('rate-limiter-flexible');
    const { max, windowSeconds } = limits(limited);
    app.addHook('onRequest', flexibleHook(new RateLimiterMemory({ points: max, duration: windowSeconds })));
  },

  async 'rate-limiter-flexible-redis'(app, { limited, redisUrl }) {
    const { RateLimiterRedis } = await import('rate-limiter-flexible');
    const { max, windowSeconds } = limits(limited);
    const storeClient = await redisClient(redisUrl);
    app.addHook(
      'onRequest',
      flexibleHook(
        new RateLimiterRedis({ storeClient, keyPrefix: 'middleware', points: max, duration: windowSeconds }),
      ),
    );
  },

  async 'tollgate-telemetry'(app, _ctx, stats) {
    await setupTollgateTracing(stats);
    const { telemetry } = await import('@tollgate/fastify');
    await app.register(telemetry);
  },

  async 'tollgate-metrics'(app) {
    const { telemetry } = await import('@tollgate/fastify');
    await app.register(telemetry);
  },

  // Route metrics only: tollgate's metrics-only run collects no process metrics either.
  async 'fastify-metrics'(app) {
    const { default: fastifyMetrics } = await import('fastify-metrics');
    await app.register(fastifyMetrics, { endpoint: '/metrics', defaultMetrics: { enabled: false } });
  },

  async otel(app, _ctx, stats) {
    await app.register(stats.fastifyOtel.plugin());
  },
};

function flexibleHook(limiter) {
  return async (request, reply) => {
    try {
      await limiter.consume(request.ip);
    } catch {
      return reply.code(429).send('Too Many Requests');
    }
  };
}

export const contenders = Object.keys(CONTENDERS);

export async function build(name, ctx, stats) {
  if (name === 'otel') {
    await setupOtel(stats, async (provider) => {
      const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
      const { FastifyOtelInstrumentation } = await import('@fastify/otel');
      const fastifyOtel = new FastifyOtelInstrumentation();
      fastifyOtel.setTracerProvider(provider);
      Object.defineProperty(stats, 'fastifyOtel', { value: fastifyOtel, enumerable: false });
      return [new HttpInstrumentation(), fastifyOtel];
    });
  }
  const Fastify = requireRoot('fastify');
  const app = Fastify({ logger: false, trustProxy: ctx.limited ? '127.0.0.1' : false });
  await CONTENDERS[name](app, ctx, stats);
  app.get('/hello', async () => HELLO);
  return {
    listen: async () => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      return app.server;
    },
  };
}
