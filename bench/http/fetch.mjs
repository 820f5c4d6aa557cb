// Fetch API handlers on @hono/node-server: bare, and bare plus one contender wrapped around the handler.
import { HELLO, limits, redisClient, requireRoot, setupOtel, setupTollgateTracing } from './common.mjs';

/** Contender name -> (ctx) => (handler => handler), wrapping the /hello handler. */
const CONTENDERS = {
  bare: () => (handler) => handler,

  async 'tollgate-memory'({ limited }) {
    const { rateLimit } = await import('@tollgate/fetch');
    const { max } = limits(limited);
    return rateLimit({ max, window: '1h', ...trust(limited) });
  },

  async 'tollgate-redis'({ limited, redisUrl }) {
    const { rateLimit, RedisStore } = await import('@tollgate/fetch');
    const { max } = limits(limited);
    const store = new RedisStore({ client: await redisClient(redisUrl) });
    return rateLimit({ max, window: '1h', store, ...trust(limited) });
  },

  // What a Fetch API app (Next.js route handlers, Bun, Deno) would otherwise wrap itself:
  // rate-limiter-flexible, keyed by the client address the runtime hands the handler.
  async 'rate-limiter-flexible-memory'({ limited }) {
    const { RateLimiterMemory } = await import('rate-limiter-flexible');
    const { max, windowSeconds } = limits(limited);
    return flexibleWrapper(new RateLimiterMemory({ points: max, duration: windowSeconds }), limited);
  },

  async 'rate-limiter-flexible-redis'({ limited, redisUrl }) {
    const { RateLimiterRedis } = await import('rate-limiter-flexible');
    const { max, windowSeconds } = limits(limited);
    const storeClient = await redisClient(redisUrl);
    const limiter = new RateLimiterRedis({
      storeClient,
      keyPrefix: 'middleware',
      points: max,
      duration: windowSeconds,
    });
    return flexibleWrapper(limiter, limited);
  },

  async 'tollgate-telemetry'(_ctx, stats) {
    await setupTollgateTracing(stats);
    const { telemetry } = await import('@tollgate/fetch');
    return telemetry({ route: '/hello' });
  },

  async 'tollgate-metrics'() {
    const { telemetry } = await import('@tollgate/fetch');
    return telemetry({ route: '/hello' });
  },

  otel: () => (handler) => handler,
};

/** The limited runs come through a trusted loopback proxy that appends X-Forwarded-For. */
function trust(limited) {
  return limited ? { trustProxy: 1 } : {};
}

function flexibleWrapper(limiter, limited) {
  const keyOf = (request, env) =>
    limited
      ? (request.headers.get('x-forwarded-for')?.split(',').at(-1)?.trim() ?? '')
      : (env.incoming.socket.remoteAddress ?? '');
  return (handler) => async (request, env) => {
    try {
      await limiter.consume(keyOf(request, env));
    } catch {
      return new Response('Too Many Requests', { status: 429 });
    }
    return handler(request, env);
  };
}

export const contenders = Object.keys(CONTENDERS);

export async function build(name, ctx, stats) {
  if (name === 'otel') {
    await setupOtel(stats, async () => {
      const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
      return [new HttpInstrumentation()];
    });
  }
  const { createAdaptorServer } = requireRoot('@hono/node-server');
  const wrap = await CONTENDERS[name](ctx, stats);
  const hello = wrap(() => Response.json(HELLO));
  const notFound = () => new Response('not found', { status: 404 });
  const fetch = (request, env) => (new URL(request.url).pathname === '/hello' ? hello(request, env) : notFound());
  return {
    listen: () =>
      new Promise((resolve, reject) => {
        const server = createAdaptorServer({ fetch });
        server.listen(0, '127.0.0.1', () => resolve(server));
        server.on('error', reject);
      }),
  };
}
