// One instance of a small Express app limited to 10 requests per minute per client IP. Run two
// of them on one Redis and they share that limit; on the memory store each has its own.
// `node examples/multi-instance/demo.js` starts two and shows the difference.
//   REDIS_URL  the shared Redis (default redis://127.0.0.1:6379); STORE=memory for none
//   PORT       default 0 (any free port); prints "listening on <url>" once ready
import { MemoryStore, RedisStore, rateLimit } from '@tollgate/express';
import express from 'express';
import { Redis } from 'ioredis';

/** The same limiter in every instance: same name, same policy, so the same Redis key. */
export const policy = { max: 10, window: '1m', name: 'multi-instance' };

function main() {
  const redis =
    process.env.STORE === 'memory' ? undefined : new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  redis?.on('error', (error) => console.error(`redis: ${error.message}`));
  const store = redis ? new RedisStore({ client: redis }) : new MemoryStore();
  const instance = process.env.INSTANCE ?? String(process.pid);

  const app = express();
  app.use(rateLimit({ ...policy, store }));
  app.get('/', (_req, res) => {
    res.json({ instance });
  });

  const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${server.address().port} (instance ${instance})`);
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
    redis?.disconnect();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
