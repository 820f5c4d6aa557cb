import { ErrorCodes, rateLimit } from '@tollgate/express';
import express from 'express';
import { describe, expect, it } from 'vitest';
import {
  closeServersAfterEach,
  codeErrorHandler,
  counter,
  get,
  getMany,
  manualClock,
  QUOTA_EXCEEDED,
  rateLimitHeaderNames,
  serve,
  sfList,
} from './support.js';

closeServersAfterEach();

async function limitedApp(options: Parameters<typeof rateLimit>[0]) {
  const app = express();
  const route = counter();
  const mw = rateLimit(options);
  app.use(mw);
  app.get('/r', route.handler);
  app.use(codeErrorHandler);
  const url = `${await serve(app)}/r`;
  return { url, calls: route.calls, mw };
}

describe('allowed requests', () => {
  it('reach the handler and carry draft-11 RateLimit-Policy and RateLimit, remaining decreasing', async () => {
    const { store } = manualClock();
    const { url, calls } = await limitedApp({ max: 5, window: '1m', store });
    const replies = await getMany(3, url);

    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(replies.map((r) => r.json?.call)).toEqual([1, 2, 3]);
    expect(calls()).toBe(3);
    for (const r of replies) expect(r.headers.get('ratelimit-policy')).toBe('"5-per-1m";q=5;w=60');
    // The clock stands still: one token refills every 12 s.
    expect(replies.map((r) => r.headers.get('ratelimit'))).toEqual([
      '"5-per-1m";r=4;t=12',
      '"5-per-1m";r=3;t=24',
      '"5-per-1m";r=2;t=36',
    ]);
    expect(replies[0]?.headers.get('retry-after')).toBeNull();
  });

  it('with the default store and real clock, remaining still decreases by one per request', async () => {
    const { url } = await limitedApp({ max: 10, window: '1h' });
    const replies = await getMany(4, url);
    const remaining = replies.map((r) => Number(sfList(r.headers.get('ratelimit'))[0]?.params.r));
    expect(remaining).toEqual([9, 8, 7, 6]);
    const policy = sfList(replies[0]?.headers.get('ratelimit-policy') ?? null);
    expect(policy).toEqual([{ name: '"10-per-1h"', params: { q: '10', w: '3600' } }]);
  });

  it('uses the limiter name as the policy name', async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({ max: 5, window: '30s', name: 'global', store });
    const r = await get(url);
    expect(r.headers.get('ratelimit-policy')).toBe('"global";q=5;w=30');
    expect(r.headers.get('ratelimit')).toBe('"global";r=4;t=6');
  });
});

describe('over the limit', () => {
  it('answers 429 with Retry-After, RateLimit fields and a quota-exceeded problem; the handler does not run', async () => {
    const { store } = manualClock();
    const { url, calls } = await limitedApp({ max: 2, window: '1m', store });
    const [a, b, c, d] = await getMany(4, url);

    expect([a?.status, b?.status]).toEqual([200, 200]);
    expect(c?.status).toBe(429);
    expect(d?.status).toBe(429);
    expect(calls()).toBe(2);

    const r = c as NonNullable<typeof c>;
    // One token refills every 30 s and the clock has not moved.
    expect(r.headers.get('retry-after')).toBe('30');
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json(;|$)/);
    expect(r.headers.get('ratelimit-policy')).toBe('"2-per-1m";q=2;w=60');
    expect(r.headers.get('ratelimit')).toBe('"2-per-1m";r=0;t=60');
    expect(r.json).toMatchObject({
      type: QUOTA_EXCEEDED,
      title: expect.any(String),
      status: 429,
      'violated-policies': ['2-per-1m'],
    });
    expect(String(r.json?.title ?? '')).not.toBe('');
  });

  it('rounds Retry-After up to whole seconds and never below 1', async () => {
    const { store, advance } = manualClock();
    const { url } = await limitedApp({ max: 1, window: '10s', store });
    expect((await get(url)).status).toBe(200);

    advance(8_500); // 1.5 s to go
    let r = await get(url);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('2');

    advance(1_499); // 1 ms to go
    r = await get(url);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(r.json?.detail).toMatch(/1 second\b/);

    advance(1);
    r = await get(url);
    expect(r.status).toBe(200);
  });

  it('lets the client through again once the bucket has refilled', async () => {
    const { store, advance } = manualClock();
    const { url, calls } = await limitedApp({ max: 2, window: '1m', store });
    await getMany(2, url);
    expect((await get(url)).status).toBe(429);
    advance(30_000);
    const r = await get(url);
    expect(r.status).toBe(200);
    expect(r.headers.get('ratelimit')).toBe('"2-per-1m";r=0;t=60');
    expect(calls()).toBe(3);
  });

  it('refuses a request whose cost is more than what is left without debiting anything', async () => {
    const { store } = manualClock();
    const app = express();
    const route = counter();
    app.use(rateLimit({ max: 5, window: '5s', store, cost: (req) => Number(req.headers['x-cost'] ?? 1) }));
    app.get('/r', route.handler);
    const url = `${await serve(app)}/r`;
    expect((await get(url, { 'x-cost': '4' })).headers.get('ratelimit')).toBe('"5-per-5s";r=1;t=4');
    const refused = await get(url, { 'x-cost': '3' });
    expect(refused.status).toBe(429);
    // 2 more tokens are needed at 1 per second.
    expect(refused.headers.get('retry-after')).toBe('2');
    const ok = await get(url, { 'x-cost': '1' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('ratelimit')).toBe('"5-per-5s";r=0;t=5');
    expect(route.calls()).toBe(2);
  });
});

describe('header modes', () => {
  it("'draft-7' sends RateLimit-Policy and a combined RateLimit field", async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({ max: 5, window: '1m', store, headers: 'draft-7' });
    const r = await get(url);
    expect(r.status).toBe(200);
    expect(r.headers.get('ratelimit-policy')).toBe('5;w=60');
    expect(r.headers.get('ratelimit')).toBe('limit=5, remaining=4, reset=12');
    expect(rateLimitHeaderNames(r.headers)).toEqual(['ratelimit', 'ratelimit-policy']);
  });

  it("'draft-6' sends RateLimit-Limit, -Remaining, -Reset and RateLimit-Policy", async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({ max: 5, window: '1m', store, headers: 'draft-6' });
    const [, r] = await getMany(2, url);
    expect(r?.headers.get('ratelimit-limit')).toBe('5');
    expect(r?.headers.get('ratelimit-remaining')).toBe('3');
    expect(r?.headers.get('ratelimit-reset')).toBe('24');
    expect(r?.headers.get('ratelimit-policy')).toBe('5;w=60');
    expect(rateLimitHeaderNames(r?.headers as Headers)).toEqual([
      'ratelimit-limit',
      'ratelimit-policy',
      'ratelimit-remaining',
      'ratelimit-reset',
    ]);
  });

  it("'legacy' sends X-RateLimit-* with the reset as a Unix time in seconds", async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({ max: 5, window: '1m', store, headers: 'legacy' });
    const before = Math.floor(Date.now() / 1000);
    const r = await get(url);
    const after = Math.ceil(Date.now() / 1000);
    expect(r.headers.get('x-ratelimit-limit')).toBe('5');
    expect(r.headers.get('x-ratelimit-remaining')).toBe('4');
    const reset = Number(r.headers.get('x-ratelimit-reset'));
    expect(Number.isInteger(reset)).toBe(true);
    // 12 s after the response was made, which happened between `before` and `after`.
    expect(reset).toBeGreaterThanOrEqual(before + 12);
    expect(reset).toBeLessThanOrEqual(after + 12);
    expect(rateLimitHeaderNames(r.headers)).toEqual([
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
    ]);
  });

  it('true means draft-11', async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({ max: 5, window: '1m', store, headers: true });
    const r = await get(url);
    expect(r.headers.get('ratelimit')).toBe('"5-per-1m";r=4;t=12');
  });

  it('false sends no rate-limit fields, but a 429 still has Retry-After and a problem body', async () => {
    const { store } = manualClock();
    const { url, calls } = await limitedApp({ max: 1, window: '1m', store, headers: false });
    const [ok, refused] = await getMany(2, url);
    expect(ok?.status).toBe(200);
    expect(rateLimitHeaderNames(ok?.headers as Headers)).toEqual([]);
    expect(refused?.status).toBe(429);
    expect(rateLimitHeaderNames(refused?.headers as Headers)).toEqual([]);
    expect(refused?.headers.get('retry-after')).toBe('60');
    expect(refused?.json).toMatchObject({ type: QUOTA_EXCEEDED, status: 429, 'violated-policies': ['1-per-1m'] });
    expect(calls()).toBe(1);
  });

  it('the 429 carries the fields of its mode', async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({ max: 1, window: '1m', store, headers: 'draft-6' });
    const [, refused] = await getMany(2, url);
    expect(refused?.status).toBe(429);
    expect(refused?.headers.get('ratelimit-remaining')).toBe('0');
    expect(refused?.headers.get('ratelimit-reset')).toBe('60');
    expect(refused?.headers.get('retry-after')).toBe('60');
    expect(refused?.headers.get('ratelimit')).toBeNull();
  });
});

describe('stacked limiters', () => {
  async function stackedApp() {
    const { store, advance } = manualClock();
    const app = express();
    const route = counter();
    app.use(rateLimit({ name: 'global', max: 3, window: '1m', store }));
    app.use('/api', rateLimit({ name: 'api', max: 1, window: '1m', store }));
    app.get('/api/r', route.handler);
    app.get('/other', route.handler);
    const base = await serve(app);
    return { base, calls: route.calls, advance };
  }

  it('list both policies in the header fields of a request that passes both', async () => {
    const { base } = await stackedApp();
    const r = await get(`${base}/api/r`);
    expect(r.status).toBe(200);
    expect(r.headers.get('ratelimit-policy')).toBe('"global";q=3;w=60, "api";q=1;w=60');
    expect(r.headers.get('ratelimit')).toBe('"global";r=2;t=20, "api";r=0;t=60');
  });

  it('a refusal by the inner limiter names only it, with both policies in the fields', async () => {
    const { base, calls } = await stackedApp();
    await get(`${base}/api/r`);
    const r = await get(`${base}/api/r`);
    expect(r.status).toBe(429);
    expect(r.json?.['violated-policies']).toEqual(['api']);
    expect(sfList(r.headers.get('ratelimit-policy')).map((i) => i.name)).toEqual(['"global"', '"api"']);
    expect(r.headers.get('ratelimit')).toBe('"global";r=1;t=40, "api";r=0;t=60');
    expect(r.headers.get('retry-after')).toBe('60');
    expect(calls()).toBe(1);
  });

  it('a refusal by the outer limiter names only it, and the inner one is not reached', async () => {
    const { base, calls } = await stackedApp();
    const others = await getMany(3, `${base}/other`);
    expect(others.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(others[0]?.headers.get('ratelimit-policy')).toBe('"global";q=3;w=60');
    const r = await get(`${base}/api/r`);
    expect(r.status).toBe(429);
    expect(r.json?.['violated-policies']).toEqual(['global']);
    expect(r.headers.get('ratelimit-policy')).toBe('"global";q=3;w=60');
    expect(r.headers.get('retry-after')).toBe('20');
    expect(calls()).toBe(3);
  });
});

describe('several policies in one limiter', () => {
  it('admits only when every policy can pay, and shows each policy in the fields', async () => {
    const { store, advance } = manualClock();
    const { url, calls } = await limitedApp({
      policies: [
        { max: 2, window: '1s' },
        { max: 5, window: '1h' },
      ],
      store,
    });
    const first = await get(url);
    expect(first.headers.get('ratelimit-policy')).toBe('"2-per-1s";q=2;w=1, "5-per-1h";q=5;w=3600');
    expect(first.headers.get('ratelimit')).toBe('"2-per-1s";r=1;t=1, "5-per-1h";r=4;t=720');

    const second = await get(url);
    expect(second.headers.get('ratelimit')).toBe('"2-per-1s";r=0;t=1, "5-per-1h";r=3;t=1440');

    // The per-second policy refuses; the hourly bucket is not debited.
    const third = await get(url);
    expect(third.status).toBe(429);
    expect(third.json?.['violated-policies']).toEqual(['2-per-1s']);
    expect(third.headers.get('ratelimit')).toBe('"2-per-1s";r=0;t=1, "5-per-1h";r=3;t=1440');
    expect(third.headers.get('retry-after')).toBe('1');

    advance(1_000);
    expect((await getMany(2, url)).map((r) => r.status)).toEqual([200, 200]);
    advance(1_000);
    const fifth = await get(url);
    expect(fifth.status).toBe(200);
    expect(sfList(fifth.headers.get('ratelimit'))[1]?.params.r).toBe('0');

    // Now the hourly policy refuses, and the per-second bucket keeps its token.
    const sixth = await get(url);
    expect(sixth.status).toBe(429);
    expect(sixth.json?.['violated-policies']).toEqual(['5-per-1h']);
    const state = sfList(sixth.headers.get('ratelimit'));
    expect(state[0]?.params.r).toBe('1');
    expect(state[1]?.params.r).toBe('0');
    expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThan(60);
    expect(calls()).toBe(5);
  });

  it('prefixes policy names with the limiter name', async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({
      name: 'multi',
      policies: [
        { max: 1, window: '1s' },
        { max: 5, window: '1h' },
      ],
      store,
    });
    const [ok, refused] = await getMany(2, url);
    expect(ok?.headers.get('ratelimit-policy')).toBe('"multi.1-per-1s";q=1;w=1, "multi.5-per-1h";q=5;w=3600');
    expect(refused?.json?.['violated-policies']).toEqual(['multi.1-per-1s']);
  });
});

describe('key, cost, skip and handler options', () => {
  it('a key function decides the bucket', async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({ max: 1, window: '1m', store, key: (req) => `user:${req.headers['x-user']}` });
    expect((await get(url, { 'x-user': 'a' })).status).toBe(200);
    expect((await get(url, { 'x-user': 'b' })).status).toBe(200);
    expect((await get(url, { 'x-user': 'a' })).status).toBe(429);
    expect((await get(url, { 'x-user': 'b' })).status).toBe(429);
  });

  it('an async key function is awaited', async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({
      max: 1,
      window: '1m',
      store,
      key: async (req) => `user:${req.headers['x-user']}`,
    });
    expect((await get(url, { 'x-user': 'a' })).status).toBe(200);
    expect((await get(url, { 'x-user': 'b' })).status).toBe(200);
    expect((await get(url, { 'x-user': 'a' })).status).toBe(429);
  });

  it('a key function that returns an empty string passes a coded error to Express', async () => {
    const { url, calls } = await limitedApp({ max: 1, window: '1m', key: () => '' });
    const r = await get(url);
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ error: ErrorCodes.INVALID_KEY });
    expect(calls()).toBe(0);
  });

  it('a numeric cost takes that many tokens per request', async () => {
    const { store } = manualClock();
    const { url, calls } = await limitedApp({ max: 5, window: '1m', store, cost: 2 });
    const replies = await getMany(3, url);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(replies.map((r) => sfList(r.headers.get('ratelimit'))[0]?.params.r)).toEqual(['3', '1', '1']);
    expect(calls()).toBe(2);
  });

  it('a cost function is asked per request', async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({
      max: 10,
      window: '1m',
      store,
      cost: async (req) => (req.path === '/r' && req.headers['x-big'] === '1' ? 7 : 1),
    });
    expect((await get(url)).headers.get('ratelimit')).toBe('"10-per-1m";r=9;t=6');
    expect((await get(url, { 'x-big': '1' })).headers.get('ratelimit')).toBe('"10-per-1m";r=2;t=48');
    const refused = await get(url, { 'x-big': '1' });
    expect(refused.status).toBe(429);
    expect((await get(url)).headers.get('ratelimit')).toBe('"10-per-1m";r=1;t=54');
  });

  it('a cost of 0 is always admitted and takes nothing', async () => {
    const { store } = manualClock();
    const { url, calls } = await limitedApp({ max: 1, window: '1m', store, cost: 0 });
    const replies = await getMany(3, url);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(replies.map((r) => r.headers.get('ratelimit'))).toEqual([
      '"1-per-1m";r=1;t=0',
      '"1-per-1m";r=1;t=0',
      '"1-per-1m";r=1;t=0',
    ]);
    expect(calls()).toBe(3);
  });

  it('a cost function returning more than the capacity passes a coded error to Express', async () => {
    const { url, calls } = await limitedApp({ max: 3, window: '1m', cost: () => 4 });
    const r = await get(url);
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ error: ErrorCodes.INVALID_COST });
    expect(calls()).toBe(0);
  });

  it('skipped requests get no headers and are not counted', async () => {
    const { store } = manualClock();
    const { url, calls } = await limitedApp({
      max: 2,
      window: '1m',
      store,
      skip: (req) => req.headers['x-internal'] === 'yes',
    });
    const skipped = await getMany(5, url, { 'x-internal': 'yes' });
    expect(skipped.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    for (const r of skipped) expect(rateLimitHeaderNames(r.headers)).toEqual([]);
    const counted = await get(url);
    expect(counted.headers.get('ratelimit')).toBe('"2-per-1m";r=1;t=30');
    expect(calls()).toBe(6);
  });

  it('an async skip is awaited, and skipping works even when the bucket is empty', async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({
      max: 1,
      window: '1m',
      store,
      skip: async (req) => req.headers['x-internal'] === 'yes',
    });
    await get(url);
    expect((await get(url)).status).toBe(429);
    expect((await get(url, { 'x-internal': 'yes' })).status).toBe(200);
  });

  it('a custom handler shapes the 429, with the headers already set and the decision passed', async () => {
    const { store } = manualClock();
    const seen: Array<{ allowed: boolean; remaining: number; retryAfterMs: number }> = [];
    const { url, calls } = await limitedApp({
      max: 1,
      window: '1m',
      store,
      handler: (_req, res, _next, decision) => {
        seen.push({ allowed: decision.allowed, remaining: decision.remaining, retryAfterMs: decision.retryAfterMs });
        res.status(429).json({ slowDown: true, waitMs: decision.retryAfterMs });
      },
    });
    const [ok, refused] = await getMany(2, url);
    expect(ok?.status).toBe(200);
    expect(refused?.status).toBe(429);
    expect(refused?.json).toEqual({ slowDown: true, waitMs: 60_000 });
    expect(refused?.headers.get('content-type')).toMatch(/^application\/json/);
    expect(refused?.headers.get('retry-after')).toBe('60');
    expect(refused?.headers.get('ratelimit')).toBe('"1-per-1m";r=0;t=60');
    expect(seen).toEqual([{ allowed: false, remaining: 0, retryAfterMs: 60_000 }]);
    expect(calls()).toBe(1);
  });

  it('a custom handler gets the response with its status already 429: sending a body is enough (docs/migrating.md)', async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({
      max: 1,
      window: '1m',
      store,
      handler: (_req, res) => {
        res.json({ slowDown: true });
      },
    });
    const [, refused] = await getMany(2, url);
    expect(refused?.status).toBe(429);
    expect(refused?.json).toEqual({ slowDown: true });
  });

  it('a custom handler may answer with another status', async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({
      max: 1,
      window: '1m',
      store,
      handler: (_req, res) => {
        res.status(503).send('busy');
      },
    });
    const [, refused] = await getMany(2, url);
    expect(refused?.status).toBe(503);
    expect(refused?.text).toBe('busy');
  });

  it('a custom handler that rejects passes its error to Express', async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({
      max: 1,
      window: '1m',
      store,
      handler: async () => {
        throw Object.assign(new Error('handler failed'), { code: 'ASYNC_HANDLER' });
      },
    });
    const [, refused] = await getMany(2, url);
    expect(refused?.status).toBe(500);
    expect(refused?.json).toEqual({ error: 'ASYNC_HANDLER' });
  });

  it('a custom handler that throws synchronously passes its error to Express', async () => {
    const { store } = manualClock();
    const { url } = await limitedApp({
      max: 1,
      window: '1m',
      store,
      handler: () => {
        throw Object.assign(new Error('handler failed'), { code: 'SYNC_HANDLER' });
      },
    });
    expect((await get(url)).status).toBe(200);
    // Without a fix the request never gets an answer; the guard aborts it after 3 s.
    const refused = await get(url, {}, 3_000);
    expect(refused?.status).toBe(500);
    expect(refused?.json).toEqual({ error: 'SYNC_HANDLER' });
  });
});

describe('the limiter behind the middleware', () => {
  it('mw.limiter.reset(key) lets a blocked client through again', async () => {
    const { url, calls, mw } = await limitedApp({ max: 1, window: '1h' });
    expect((await get(url)).status).toBe(200);
    expect((await get(url)).status).toBe(429);
    await mw.limiter.reset('127.0.0.1');
    const again = await get(url);
    expect(again.status).toBe(200);
    expect(again.headers.get('ratelimit')).toBe('"1-per-1h";r=0;t=3600');
    expect(calls()).toBe(2);
  });

  it('mw.limiter.peek shows what the requests consumed', async () => {
    const { url, mw } = await limitedApp({ max: 4, window: '1h' });
    await getMany(3, url);
    const decision = await mw.limiter.peek('127.0.0.1');
    expect(decision.remaining).toBe(1);
    expect(decision.limit).toBe(4);
  });

  it('resetting another key leaves the client blocked', async () => {
    const { url, mw } = await limitedApp({ max: 1, window: '1h' });
    await get(url);
    await mw.limiter.reset('127.0.0.2');
    expect((await get(url)).status).toBe(429);
  });
});

describe('concurrency and mounting', () => {
  it('admits exactly max of many concurrent requests', async () => {
    const { url, calls } = await limitedApp({ max: 5, window: '1h' });
    const replies = await Promise.all(Array.from({ length: 20 }, () => get(url)));
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    expect(calls()).toBe(5);
    const remaining = replies
      .filter((r) => r.status === 200)
      .map((r) => sfList(r.headers.get('ratelimit'))[0]?.params.r);
    expect(remaining.sort()).toEqual(['0', '1', '2', '3', '4']);
  });

  it('stacks a limiter on the app with one inside a mounted sub-app', async () => {
    const { store } = manualClock();
    const app = express();
    const sub = express();
    const route = counter();
    app.use(rateLimit({ name: 'outer', max: 5, window: '1m', store }));
    sub.use(rateLimit({ name: 'inner', max: 1, window: '1m', store }));
    sub.get('/r', route.handler);
    app.use('/sub', sub);
    const base = await serve(app);
    const ok = await get(`${base}/sub/r`);
    expect(ok.headers.get('ratelimit-policy')).toBe('"outer";q=5;w=60, "inner";q=1;w=60');
    const refused = await get(`${base}/sub/r`);
    expect(refused.status).toBe(429);
    expect(refused.json?.['violated-policies']).toEqual(['inner']);
    expect(route.calls()).toBe(1);
  });

  it('stacked limiters in different header modes each send their own fields', async () => {
    const { store } = manualClock();
    const app = express();
    app.use(rateLimit({ name: 'a', max: 5, window: '1m', store }));
    app.use(rateLimit({ name: 'b', max: 2, window: '1m', store, headers: 'legacy' }));
    app.get('/r', counter().handler);
    const r = await get(`${await serve(app)}/r`);
    expect(r.headers.get('ratelimit-policy')).toBe('"a";q=5;w=60');
    expect(r.headers.get('ratelimit')).toBe('"a";r=4;t=12');
    expect(r.headers.get('x-ratelimit-limit')).toBe('2');
    expect(r.headers.get('x-ratelimit-remaining')).toBe('1');
  });
});
