// An Express app limited by tollgate: 10 requests per minute per client IP, on the in-memory
// store, or on Redis when REDIS_URL is set. Run it with `node examples/express/app.js`.
import { RedisStore, rateLimit } from '@tollgate/express';
import express from 'express';

export function createApp({ redisUrl = process.env.REDIS_URL } = {}) {
  const store = redisUrl ? new RedisStore({ url: redisUrl }) : undefined;
  const limit = rateLimit({ max: 10, window: '1m', name: 'demo', ...(store ? { store } : {}) });
  const app = express();
  app.use(limit);
  app.get('/hello', (_req, res) => {
    res.json({ hello: 'world' });
  });
  return { app, store, limiter: limit.limiter };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 3000);
  createApp().app.listen(port, () => console.log(`listening on http://localhost:${port}/hello`));
}
