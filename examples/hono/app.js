// A Hono app limited by tollgate: 10 requests per minute per client IP, on the in-memory store,
// or on Redis when REDIS_URL is set, served on Node.js by @hono/node-server.
// Run it with `node examples/hono/app.js`.
import { serve } from '@hono/node-server';
import { metricsHandler, RedisStore, rateLimit, telemetry } from '@tollgate/hono';
import { Hono } from 'hono';

export const policy = { max: 10, window: '1m', name: 'demo' };

/** Starts the app on `port` (0: any free one); resolves to its URL and a closer. */
export async function start({ port = 0, host = '127.0.0.1', redisUrl = process.env.REDIS_URL } = {}) {
  const store = redisUrl ? new RedisStore({ url: redisUrl }) : undefined;
  const app = new Hono();
  app.use(telemetry());
  app.get('/metrics', metricsHandler());
  app.use(rateLimit({ ...policy, ...(store ? { store } : {}) }));
  app.get('/hello', (c) => c.json({ hello: 'world' }));
  const server = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port, hostname: host }, () => resolve(s));
  });
  return {
    url: `http://${host}:${server.address().port}/hello`,
    store,
    close: async () => {
      server.close();
      await store?.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { url } = await start({ port: Number(process.env.PORT ?? 3000), host: '0.0.0.0' });
  console.log(`listening on ${url}`);
}
