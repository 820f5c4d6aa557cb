import * as tgExpress from '@tollgate/express';
import * as tgFastify from '@tollgate/fastify';
import * as tgKoa from '@tollgate/koa';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listen } from '../helpers/http.js';
import { type InMemoryTracing, startInMemoryTracing } from '../helpers/in-memory-tracing.js';

/**
 * A limiter in mode 'shadow' describes its decisions on the request's server span as an
 * enforcing one would (limited, retry_after_ms), with outcome shadow_limited and mode shadow,
 * while the request is served: through each adapter's telemetry() and rateLimit().
 */
const limit = { max: 1, window: '1m', name: 'shadow-span', mode: 'shadow' } as const;

const apps: Record<string, () => Promise<{ url: string; close(): Promise<void> }>> = {
  async express() {
    const app = express();
    app.use(tgExpress.telemetry());
    app.use(tgExpress.rateLimit(limit));
    app.get('/item', (_req, res) => {
      res.json({ ok: true });
    });
    return listen(app);
  },
  async koa() {
    const app = new Koa();
    app.use(tgKoa.telemetry());
    app.use(tgKoa.rateLimit(limit));
    app.use((ctx) => {
      ctx.body = { ok: true };
    });
    return listen(app.callback());
  },
  async fastify() {
    const app = Fastify();
    await app.register(tgFastify.telemetry);
    await app.register(tgFastify.rateLimit, limit);
    app.get('/item', async () => ({ ok: true }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  },
};

describe.each(Object.keys(apps))('%s: a shadow limiter on the server span', (framework) => {
  let tracing: InMemoryTracing;
  beforeEach(() => {
    tracing = startInMemoryTracing();
  });
  afterEach(async () => {
    await tracing.shutdown();
  });

  it('annotates the would-be refusal as enforcement would, and the request is served', async () => {
    const app = await (apps[framework] as () => Promise<{ url: string; close(): Promise<void> }>)();
    try {
      expect((await fetch(`${app.url}/item`)).status).toBe(200);
      expect((await fetch(`${app.url}/item`)).status).toBe(200);
    } finally {
      await app.close();
    }
    const servers = tracing.spans().filter((s) => s.attributes['http.response.status_code'] === 200);
    expect(servers).toHaveLength(2);
    expect(servers[0]?.attributes).toMatchObject({
      'tollgate.ratelimit.limiter': 'shadow-span',
      'tollgate.ratelimit.limited': false,
      'tollgate.ratelimit.outcome': 'allowed',
      'tollgate.ratelimit.mode': 'shadow',
    });
    expect(servers[1]?.attributes).toMatchObject({
      'tollgate.ratelimit.limiter': 'shadow-span',
      'tollgate.ratelimit.limited': true,
      'tollgate.ratelimit.outcome': 'shadow_limited',
      'tollgate.ratelimit.mode': 'shadow',
      'tollgate.ratelimit.retry_after_ms': expect.any(Number),
    });
    expect(servers[1]?.attributes['tollgate.ratelimit.retry_after_ms']).toBeGreaterThan(50_000);
  });
});
