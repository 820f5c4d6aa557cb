// Express 5 servers: bare, and bare plus one contender.
import { HELLO, limits, redisClient, requireRoot, setupOtel, setupTollgateTracing } from './common.mjs';

/** Contender name -> (app, ctx) => void, mounting it before the route. */
const CONTENDERS = {
  bare() {},

  async 'tollgate-memory'(app, { limited }) {
    const { rateLimit } = await import('@tollgate/express');
    const { max } = limits(limited);
    app.use(rateLimit({ max, window: '1h' }));
  },

  async 'tollgate-redis'(app, { limited, redisUrl }) {
    const { rateLimit, RedisStore } = await import('@tollgate/express');
    const { max } = limits(limited);
    app.use(rateLimit({ max, window: '1h', store: new RedisStore({ client: await redisClient(redisUrl) }) }));
  },

  // Like for like (issue 18 item 2): tollgate configured as a peer is, headers included.
  async 'tollgate-memory-noheaders'(app, { limited }) {
    const { rateLimit } = await import('@tollgate/express');
    app.use(rateLimit({ max: limits(limited).max, window: '1h', headers: false }));
  },

  async 'tollgate-redis-noheaders'(app, { limited, redisUrl }) {
    const { rateLimit, RedisStore } = await import('@tollgate/express');
    const store = new RedisStore({ client: await redisClient(redisUrl) });
    app.use(rateLimit({ max: limits(limited).max, window: '1h', headers: false, store }));
  },

  async 'tollgate-memory-draft7'(app, { limited }) {
    const { rateLimit } = await import('@tollgate/express');
    app.use(rateLimit({ max: limits(limited).max, window: '1h', headers: 'draft-7' }));
  },

  async 'tollgate-redis-draft7'(app, { limited, redisUrl }) {
    const { rateLimit, RedisStore } = await import('@tollgate/express');
    const store = new RedisStore({ client: await redisClient(redisUrl) });
    app.use(rateLimit({ max: limits(limited).max, window: '1h', headers: 'draft-7', store }));
  },

  async 'express-rate-limit-memory-draft7'(app, { limited }) {
    const { rateLimit } = await import('express-rate-limit');
    const { max, windowMs } = limits(limited);
    app.use(rateLimit({ windowMs, limit: max, standardHeaders: 'draft-7', legacyHeaders: false }));
  },

  async 'express-rate-limit-redis-draft7'(app, { limited, redisUrl }) {
    const { rateLimit } = await import('express-rate-limit');
    const { RedisStore } = await import('rate-limit-redis');
    const client = await redisClient(redisUrl);
    const { max, windowMs } = limits(limited);
    const store = new RedisStore({ sendCommand: (command, ...args) => client.call(command, ...args) });
    app.use(rateLimit({ windowMs, limit: max, standardHeaders: 'draft-7', legacyHeaders: false, store }));
  },

  // express-rate-limit as its README shows it: draft-8 headers, no legacy ones.
  async 'express-rate-limit-memory'(app, { limited }) {
    const { rateLimit } = await import('express-rate-limit');
    const { max, windowMs } = limits(limited);
    app.use(rateLimit({ windowMs, limit: max, standardHeaders: 'draft-8', legacyHeaders: false }));
  },

  async 'express-rate-limit-redis'(app, { limited, redisUrl }) {
    const { rateLimit } = await import('express-rate-limit');
    const { RedisStore } = await import('rate-limit-redis');
    const client = await redisClient(redisUrl);
    const { max, windowMs } = limits(limited);
    app.use(
      rateLimit({
        windowMs,
        limit: max,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        store: new RedisStore({ sendCommand: (command, ...args) => client.call(command, ...args) }),
      }),
    );
  },

  // rate-limiter-flexible as its README wires it into Express.
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
    const { telemetry } = await import('@tollgate/express');
    app.use(telemetry());
  },

  async 'tollgate-metrics'(app) {
    const { telemetry } = await import('@tollgate/express');
    app.use(telemetry());
  },

  // Labels comparable to tollgate's: method, path (normalized) and status code.
  async 'express-prom-bundle'(app) {
    const { default: promBundle } = await import('express-prom-bundle');
    app.use(promBundle({ includeMethod: true, includePath: true, includeStatusCode: true }));
  },

  otel() {},
};

function flexibleMiddleware(limiter) {
  return (req, res, next) => {
    limiter
      .consume(req.ip)
      .then(() => next())
      .catch(() => res.status(429).send('Too Many Requests'));
  };
}

export const contenders = Object.keys(CONTENDERS);

export async function build(name, ctx, stats) {
  if (name === 'otel') {
    // Instrumentations patch require('express') and require('http'): set up before loading either.
    await setupOtel(stats, async () => {
      const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
      const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express');
      return [new HttpInstrumentation(), new ExpressInstrumentation()];
    });
  }
  const express = requireRoot('express');
  const app = express();
  if (ctx.limited) app.set('trust proxy', 'loopback');
  await CONTENDERS[name](app, ctx, stats);
  app.get('/hello', (_req, res) => {
    res.json(HELLO);
  });
  return {
    listen: () =>
      new Promise((resolve, reject) => {
        const server = app.listen(0, '127.0.0.1', (error) => (error ? reject(error) : resolve(server)));
      }),
  };
}
