// An Express app whose limits live in Redis, so every instance of it shares them:
//   GET  /hello    20 requests per minute per client IP ("site")
//   POST /login    that, plus 3 per 15 minutes per client IP ("login")
//   GET  /health   not limited
//   GET  /metrics  Prometheus: decisions, store latency, HTTP durations
// Run it with `node examples/express-with-redis/app.js` (REDIS_URL, default redis://127.0.0.1:6379).
import { metricsHandler, RedisStore, rateLimit, telemetry } from '@tollgate/express';
import express from 'express';
import { Redis } from 'ioredis';

/** Named limits: the names (then the policy ids) are the Redis keys' middle segment, and the RateLimit header items. */
export const limits = {
  site: { max: 20, window: '1m', name: 'site' },
  login: { max: 3, window: '15m', name: 'login' },
};

/** Starts the app on `port` (0: any free one); resolves to its base URL and a closer. */
export async function start({
  port = 0,
  host = '127.0.0.1',
  redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
} = {}) {
  // One client for the whole app; the store never closes a client it was given.
  const redis = new Redis(redisUrl);
  // ioredis reconnects by itself; meanwhile tollgate answers from its in-process fallback
  // (failMode 'local', the default), so a Redis outage never takes the app down.
  redis.on('error', (error) => console.error(`redis: ${error.message}`));
  const store = new RedisStore({ client: redis });

  const app = express();
  // Behind a reverse proxy, tell Express which hops to trust, e.g. app.set('trust proxy', 1):
  // tollgate keys clients by req.ip and never reads X-Forwarded-For itself.
  app.use(telemetry());
  app.get('/health', (_req, res) => {
    res.json({ ok: true, redis: redis.status });
  });
  app.get('/metrics', metricsHandler());

  app.use(rateLimit({ ...limits.site, store }));
  app.get('/hello', (_req, res) => {
    res.json({ hello: 'world' });
  });
  app.post('/login', rateLimit({ ...limits.login, store }), (_req, res) => {
    res.json({ ok: true });
  });

  const server = app.listen(port, host);
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${server.address().port}`,
    redis,
    close: async () => {
      await new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      });
      await redis.quit();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await start({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '0.0.0.0' });
  console.log(
    `listening on ${app.url} (limits shared through Redis at ${process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'})`,
  );
  const stop = () => app.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
