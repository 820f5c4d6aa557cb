import type { Store } from '@tollgate/core';
import { rateLimit } from '@tollgate/express';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { closeServersAfterEach, counter, get, getMany, rateLimitHeaderNames, serve, sfList } from './support.js';

closeServersAfterEach();

/** A store that is down: every call fails, synchronously or as a rejected promise. */
function brokenStore(kind: 'sync' | 'async'): Store & { calls: number } {
  const fail = () => {
    store.calls += 1;
    const error = new Error('connection refused');
    if (kind === 'sync') throw error;
    return Promise.reject(error);
  };
  const store = { calls: 0, consume: fail, peek: fail, reset: fail } as unknown as Store & { calls: number };
  return store;
}

function quietLogger() {
  const lines: string[] = [];
  const log = (_fields: object, message: string) => {
    lines.push(message);
  };
  return { lines, logger: { info: log, warn: log, error: log } };
}

async function appWith(options: Parameters<typeof rateLimit>[0]) {
  const app = express();
  const route = counter();
  const mw = rateLimit(options);
  app.use(mw);
  app.get('/r', route.handler);
  return { url: `${await serve(app)}/r`, calls: route.calls, mw };
}

describe.each(['sync', 'async'] as const)('a store that fails (%s)', (kind) => {
  it("failMode 'closed' answers 503 with Retry-After and a problem body; the handler does not run", async () => {
    const store = brokenStore(kind);
    const { lines, logger } = quietLogger();
    const { url, calls } = await appWith({ max: 5, window: '1m', store, failMode: 'closed', logger });
    const r = await get(url);
    expect(r.status).toBe(503);
    const retryAfter = Number(r.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json(;|$)/);
    expect(r.json).toMatchObject({ status: 503, title: expect.any(String) });
    expect(r.json?.type).not.toBe('https://iana.org/assignments/http-problem-types#quota-exceeded');
    expect(calls()).toBe(0);
    expect(store.calls).toBe(1);
    expect(lines).toContain('rate limit store failed');
  });

  it("failMode 'closed' does not hand the 503 to the custom 429 handler", async () => {
    const { logger } = quietLogger();
    let handled = 0;
    const { url } = await appWith({
      max: 5,
      window: '1m',
      store: brokenStore(kind),
      failMode: 'closed',
      logger,
      handler: (_req, res) => {
        handled += 1;
        res.status(429).end();
      },
    });
    expect((await get(url)).status).toBe(503);
    expect(handled).toBe(0);
  });

  it("failMode 'open' lets every request through", async () => {
    const { logger } = quietLogger();
    const { url, calls, mw } = await appWith({
      max: 1,
      window: '1m',
      store: brokenStore(kind),
      failMode: 'open',
      logger,
    });
    const replies = await getMany(3, url);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(calls()).toBe(3);
    expect(mw.limiter.health.failures).toBe(3);
  });

  it("failMode 'local' still enforces the limit in-process", async () => {
    const { lines, logger } = quietLogger();
    const store = brokenStore(kind);
    const { url, calls } = await appWith({ max: 2, window: '1h', store, failMode: 'local', logger });
    const replies = await getMany(3, url);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 429]);
    // The fallback bucket runs on the real clock, so only the remaining counts are exact.
    const states = replies.map((r) => sfList(r.headers.get('ratelimit'))[0]);
    expect(states.map((s) => s?.name)).toEqual(['"2-per-1h"', '"2-per-1h"', '"2-per-1h"']);
    expect(states.map((s) => s?.params.r)).toEqual(['1', '0', '0']);
    expect(replies[2]?.json?.['violated-policies']).toEqual(['2-per-1h']);
    expect(calls()).toBe(2);
    expect(store.calls).toBe(3);
    // One log line for the outage, not one per request.
    expect(lines.filter((l) => l === 'rate limit store failed')).toHaveLength(1);
  });

  it("the default failMode is 'local'", async () => {
    const { logger } = quietLogger();
    const { url, mw } = await appWith({ max: 1, window: '1h', store: brokenStore(kind), logger });
    expect(mw.limiter.failMode).toBe('local');
    expect((await getMany(2, url)).map((r) => r.status)).toEqual([200, 429]);
  });
});

describe('a store that never answers', () => {
  it('is given up on after timeoutMs and failMode applies', async () => {
    const { logger } = quietLogger();
    const hanging = {
      consume: () => new Promise<never>(() => {}),
      peek: () => new Promise<never>(() => {}),
      reset: () => new Promise<never>(() => {}),
    } as unknown as Store;
    const { url, calls } = await appWith({
      max: 1,
      window: '1m',
      store: hanging,
      failMode: 'closed',
      timeoutMs: 20,
      logger,
    });
    const r = await get(url);
    expect(r.status).toBe(503);
    expect(rateLimitHeaderNames(r.headers)).toEqual([]);
    expect(calls()).toBe(0);
  });
});
