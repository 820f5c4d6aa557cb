// A Fastify app limited by tollgate: 10 requests per minute per client IP, on the in-memory
// store, or on Redis when REDIS_URL is set. Run it with `node examples/fastify/app.js`.
import { metricsHandler, RedisStore, rateLimit, telemetry } from '@tollgate/fastify';
import Fastify from 'fastify';

export const policy = { max: 10, window: '1m', name: 'demo' };

/** Starts the app on `port` (0: any free one); resolves to its URL and a closer. */
export async function start({ port = 0, host = '127.0.0.1', redisUrl = process.env.REDIS_URL } = {}) {
  const store = redisUrl ? new RedisStore({ url: redisUrl }) : undefined;
  const app = Fastify();
  await app.register(telemetry);
  await app.register(rateLimit, { ...policy, ...(store ? { store } : {}) });
  app.get('/metrics', { config: { rateLimit: false } }, metricsHandler());
  app.get('/hello', async () => ({ hello: 'world' }));
  const address = await app.listen({ port, host });
  return {
    url: `${address}/hello`,
    store,
    close: async () => {
      await app.close();
      await store?.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { url } = await start({ port: Number(process.env.PORT ?? 3000), host: '0.0.0.0' });
  console.log(`listening on ${url}`);
}
