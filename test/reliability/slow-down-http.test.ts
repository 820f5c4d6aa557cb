import type { RateLimiter } from '@tollgate/core';
import { register } from '@tollgate/core';
import { rateLimit as expressRateLimit } from '@tollgate/express';
import { rateLimit as fastifyRateLimit } from '@tollgate/fastify';
import { rateLimit as koaRateLimit } from '@tollgate/koa';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from '../helpers/http.js';

/**
 * Issue 16 item 6 over real HTTP, in each framework whose adapter reports a closed connection: a
 * request beyond the bucket waits for its token; a client that disconnects while waiting leaves
 * the line (the next takes its place) and takes nothing; the wait is in Server-Timing and
 * tollgate_ratelimit_delay_seconds.
 */
interface App {
  url: string;
  /** The middleware's limiter (Fastify's plugin does not expose it). */
  limiter: RateLimiter | undefined;
  handled(): number;
  close(): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: the same options go to every framework.
type Options = Record<string, any>;

const frameworks: Array<{ name: string; serve(options: Options): Promise<App> }> = [
  {
    name: 'express',
    async serve(options) {
      const app = express();
      const limit = expressRateLimit(options as never);
      let handled = 0;
      app.use(limit);
      app.get('/', (_req, res) => {
        handled += 1;
        res.json({ ok: true });
      });
      const server = await listen(app);
      return { url: `${server.url}/`, limiter: limit.limiter, handled: () => handled, close: server.close };
    },
  },
  {
    name: 'koa',
    async serve(options) {
      const app = new Koa();
      const limit = koaRateLimit(options as never);
      let handled = 0;
      app.use(limit);
      app.use((ctx) => {
        handled += 1;
        ctx.body = { ok: true };
      });
      const server = await listen(app.callback());
      return { url: `${server.url}/`, limiter: limit.limiter, handled: () => handled, close: server.close };
    },
  },
  {
    name: 'fastify',
    async serve(options) {
      const app = Fastify({ forceCloseConnections: true });
      let handled = 0;
      await app.register(fastifyRateLimit, options as never);
      app.get('/', async () => {
        handled += 1;
        return { ok: true };
      });
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      return { url: `${url}/`, limiter: undefined, handled: () => handled, close: () => app.close() };
    },
  },
];

const opened: App[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

async function delayCount(limiter: string): Promise<number> {
  const metrics = await register.getMetricsAsJSON();
  const family = metrics.find((m) => m.name === 'tollgate_ratelimit_delay_seconds');
  const count = family?.values.find(
    (v) =>
      (v as { metricName?: string }).metricName === 'tollgate_ratelimit_delay_seconds_count' &&
      v.labels.limiter === limiter,
  );
  return count?.value ?? 0;
}

describe.each(frameworks)('slowDown over HTTP ($name)', (framework) => {
  it('a client that disconnects while waiting gives its place back: the next in line gets the token, and the one who left took none', async () => {
    const name = `slow-abort-${framework.name}`;
    // One token every 300 ms, and nothing in the bucket once the first request has it.
    const app = await framework.serve({ name, max: 1, window: 300, slowDown: { maxDelay: '5s' } });
    opened.push(app);
    expect((await fetch(app.url)).status).toBe(200);
    const { limiter } = app;
    // Until `n` requests wait in line (without the limiter at hand, a short pause stands for it).
    const inLine = async (n: number) => {
      if (limiter === undefined) return new Promise((r) => setTimeout(r, 40));
      while (limiter.waiting !== n) await new Promise((r) => setTimeout(r, 5));
    };
    const leaving = new AbortController();
    const gone = fetch(app.url, { signal: leaving.signal }).catch((error: unknown) => error);
    await inLine(1); // first in line
    const next = fetch(app.url);
    await inLine(2);
    leaving.abort();
    expect(await gone).toBeInstanceOf(Error);
    await inLine(1); // the server hears the close and takes the request out of the line
    const reply = await next;
    expect(reply.status).toBe(200);
    expect(reply.headers.get('server-timing')).toMatch(/^ratelimit-delay;dur=\d+$/);
    // The one who left never reached the handler, and took no token: one more request finds the
    // bucket empty, waiting for the next token rather than two.
    expect(app.handled()).toBe(2);
    if (limiter !== undefined) {
      expect(limiter.waiting).toBe(0);
      const status = await limiter.peek('127.0.0.1');
      expect(status.remaining).toBe(0);
      expect(status.retryAfterMs).toBeLessThanOrEqual(300);
    }
    expect(await delayCount(name)).toBe(1);
  });

  it('waits beyond maxDelay are refused with 429, and only the admitted waits are observed', async () => {
    const name = `slow-max-${framework.name}`;
    const app = await framework.serve({ name, max: 2, window: 1000, burst: 1, slowDown: { maxDelay: 700 } });
    opened.push(app);
    // Tokens every 500 ms: the second waits about 500 ms, the third would wait about 1000 ms.
    const replies = await Promise.all([fetch(app.url), fetch(app.url), fetch(app.url)]);
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 429]);
    expect(await delayCount(name)).toBe(1);
  });
});
