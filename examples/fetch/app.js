// Fetch API handlers limited by tollgate: 10 requests per minute per client IP, on the in-memory
// store, or on Redis when REDIS_URL is set. The same handlers serve on Node.js (here, through
// @hono/node-server), Bun (`Bun.serve({ fetch })`) and Deno (`Deno.serve(fetch)`): each runtime
// hands the handler the client's connection as its second argument.
// Run it with `node examples/fetch/app.js`.
import { serve } from '@hono/node-server';
import { metricsHandler, RedisStore, rateLimit, telemetry } from '@tollgate/fetch';

export const policy = { max: 10, window: '1m', name: 'demo' };

/** The app as one fetch handler: GET /hello limited and traced, GET /metrics for Prometheus. */
export function handler({ store } = {}) {
  const limit = rateLimit({ ...policy, ...(store ? { store } : {}) });
  const hello = telemetry({ route: '/hello' })(limit(() => Response.json({ hello: 'world' })));
  const metrics = metricsHandler();
  return (request, ...args) => {
    const { pathname } = new URL(request.url);
    if (pathname === '/hello') return hello(request, ...args);
    if (pathname === '/metrics') return metrics(request);
    return new Response('not found', { status: 404 });
  };
}

/** Starts the app on `port` (0: any free one); resolves to its URL and a closer. */
export async function start({ port = 0, host = '127.0.0.1', redisUrl = process.env.REDIS_URL } = {}) {
  const store = redisUrl ? new RedisStore({ url: redisUrl }) : undefined;
  const server = await new Promise((resolve) => {
    const s = serve({ fetch: handler({ store }), port, hostname: host }, () => resolve(s));
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
