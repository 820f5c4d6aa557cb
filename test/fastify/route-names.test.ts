import { MemoryStore, RedisStore, type Store } from '@tollgate/core';
import { rateLimit } from '@tollgate/fastify';
import { Redis } from 'ioredis';
import { parseList } from 'structured-headers';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { closeAppsAfterEach, fastify, get, getMany, head, manualClock, start, storeKeys } from './support.js';

closeAppsAfterEach();

const client = redis.server ? new Redis(REDIS_URL) : undefined;
afterAll(async () => {
  await client?.quit();
});

/** The policy names of a draft-11 field, as a real Structured Field parser reads them. */
function policyNames(field: string | null): unknown[] {
  return parseList(field ?? '').map(([name]) => name);
}

async function post(url: string) {
  const res = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Issue 13, item 1: `POST /report/export` and `POST /report.export` were both named
 * `POST..report.export`, so a strict and a lax route shared one bucket.
 */
async function strictAndLax(store: Store) {
  const app = fastify();
  await app.register(rateLimit, { global: false, store });
  app.post('/report/export', { config: { rateLimit: { max: 2, window: '15m' } } }, async () => 'strict');
  app.post('/report.export', { config: { rateLimit: { max: 1000, window: '1m' } } }, async () => 'lax');
  const base = await start(app);
  const strict: number[] = [];
  const lax: number[] = [];
  for (let i = 0; i < 8; i++) {
    strict.push(await post(`${base}/report/export`));
    lax.push(await post(`${base}/report.export`));
  }
  return { strict, lax };
}

describe('route limiters named after routes never share buckets (issue 13, item 1)', () => {
  it('on one MemoryStore: the strict route admits exactly 2, the lax route is never refused', async () => {
    const { strict, lax } = await strictAndLax(new MemoryStore());
    expect(strict.filter((s) => s === 200)).toHaveLength(2);
    expect(strict.slice(2)).toEqual(Array(6).fill(429));
    expect(lax).toEqual(Array(8).fill(200));
  });

  it.skipIf(!redis.server)('on Redis: the strict route admits exactly 2, the lax route is never refused', async () => {
    const prefix = uniquePrefix('fastify-names');
    const store = new RedisStore({ client: client as Redis });
    const app = fastify();
    await app.register(rateLimit, { global: false, store, prefix });
    app.post('/report/export', { config: { rateLimit: { max: 2, window: '15m' } } }, async () => 'strict');
    app.post('/report.export', { config: { rateLimit: { max: 1000, window: '1m' } } }, async () => 'lax');
    const base = await start(app);
    const strict: number[] = [];
    const lax: number[] = [];
    for (let i = 0; i < 8; i++) {
      strict.push(await post(`${base}/report/export`));
      lax.push(await post(`${base}/report.export`));
    }
    try {
      expect(strict.filter((s) => s === 200)).toHaveLength(2);
      expect(lax).toEqual(Array(8).fill(200));
      // Two limiters, two keys: one per route for the one client.
      expect(await (client as Redis).keys(`${prefix}:*`)).toHaveLength(2);
    } finally {
      const keys = await (client as Redis).keys(`${prefix}:*`);
      if (keys.length > 0) await (client as Redis).del(...keys);
    }
  });

  it('routes that differ only in characters the readable part folds get different limiters', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { global: false, store });
    const urls = ['/a/b', '/a.b', '/a_b', '/a~b', '/a!b', '/a-b'];
    for (const url of urls) app.get(url, { config: { rateLimit: { max: 1, window: '1m' } } }, async () => 'ok');
    const base = await start(app);
    for (const url of urls) expect((await get(`${base}${url}`)).status).toBe(200);
    // Every route got its own bucket for the one client.
    expect(storeKeys(store)).toHaveLength(urls.length);
  });

  it('two routes on one URL told apart by a version constraint have limits of their own', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { global: false, store });
    const strict = { rateLimit: { max: 2, window: '15m' as const } };
    const lax = { rateLimit: { max: 1000, window: '1m' as const } };
    app.get('/v', { constraints: { version: '1.0.0' }, config: strict }, async () => 'v1');
    app.get('/v', { constraints: { version: '2.0.0' }, config: lax }, async () => 'v2');
    const base = await start(app);
    const v1: number[] = [];
    const v2: number[] = [];
    for (let i = 0; i < 4; i++) {
      v1.push((await get(`${base}/v`, { 'accept-version': '1.x' })).status);
      v2.push((await get(`${base}/v`, { 'accept-version': '2.x' })).status);
    }
    expect([v1, v2]).toEqual([
      [200, 200, 429, 429],
      [200, 200, 200, 200],
    ]);
  });

  it('one config object reused on two routes gives each route a limit of its own', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { global: false, store });
    const config = { rateLimit: { max: 1, window: '1m' as const } };
    app.get('/one', { config }, async () => 'one');
    app.get('/two', { config }, async () => 'two');
    const base = await start(app);
    expect([(await get(`${base}/one`)).status, (await get(`${base}/two`)).status]).toEqual([200, 200]);
    expect([(await get(`${base}/one`)).status, (await get(`${base}/two`)).status]).toEqual([429, 429]);
  });
});

describe('one route, several methods', () => {
  it('share one limit, the automatic HEAD route of a GET-and-POST route included', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { global: false, store });
    app.route({
      method: ['GET', 'POST'],
      url: '/both',
      config: { rateLimit: { max: 2, window: '1m' } },
      handler: async () => 'ok',
    });
    const base = await start(app);
    const viaGet = await get(`${base}/both`);
    const viaHead = await head(`${base}/both`);
    const viaPost = await post(`${base}/both`);
    expect([viaGet.status, viaHead.status, viaPost]).toEqual([200, 200, 429]);
    expect(viaGet.headers.get('ratelimit-policy')).toBe('"GET|POST /both";q=2;w=60');
  });
});

describe('an unnamed route limit shows clients its route (issue 12, item 10)', () => {
  it('as "GET /api/login" in RateLimit-Policy, RateLimit and violated-policies, parseable as Structured Fields', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { max: 10, window: '1m', store });
    app.get('/api/login', { config: { rateLimit: { max: 1, window: '15m' } } }, async () => 'ok');
    const base = await start(app);
    const [ok, refused] = await getMany(2, `${base}/api/login`);
    expect(policyNames(ok?.headers.get('ratelimit-policy') ?? null)).toEqual(['10-per-1m', 'GET /api/login']);
    expect(policyNames(ok?.headers.get('ratelimit') ?? null)).toEqual(['10-per-1m', 'GET /api/login']);
    expect(refused?.status).toBe(429);
    expect(refused?.json?.['violated-policies']).toEqual(['GET /api/login']);
  });

  it('a route template with parameters, quotes, backslashes or non-ASCII still gives valid header fields', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { global: false, store });
    const routes = ['/users/:id', '/say/"hi"', '/back\\slash', '/café', '/a,b;c'];
    for (const url of routes) app.get(url, { config: { rateLimit: { max: 5, window: '1m' } } }, async () => 'ok');
    const base = await start(app);
    const shown = [];
    for (const path of ['/users/7', '/say/%22hi%22', '/back%5Cslash', '/caf%C3%A9', '/a,b;c']) {
      const r = await get(`${base}${path}`);
      expect(r.status).toBe(200);
      shown.push(...policyNames(r.headers.get('ratelimit-policy')));
      expect(policyNames(r.headers.get('ratelimit'))).toEqual(policyNames(r.headers.get('ratelimit-policy')));
    }
    expect(shown).toEqual([
      'GET /users/:id',
      'GET /say/%22hi%22',
      'GET /back%5Cslash',
      'GET /caf%C3%A9',
      'GET /a%2Cb%3Bc',
    ]);
  });

  it('is the same in every instance of the app, and an explicit name still wins', async () => {
    const seen = [];
    for (let i = 0; i < 2; i++) {
      const app = fastify();
      await app.register(rateLimit, { global: false, store: new MemoryStore() });
      app.get('/a', { config: { rateLimit: { max: 5, window: '1m' } } }, async () => 'ok');
      app.get('/b', { config: { rateLimit: { max: 5, window: '1m', name: 'bee' } } }, async () => 'ok');
      const base = await start(app);
      seen.push((await get(`${base}/a`)).headers.get('ratelimit-policy'));
      seen.push((await get(`${base}/b`)).headers.get('ratelimit-policy'));
    }
    expect(seen).toEqual(['"GET /a";q=5;w=60', '"bee";q=5;w=60', '"GET /a";q=5;w=60', '"bee";q=5;w=60']);
  });
});

describe('global: false: the plugin options are the defaults of every route limit (issue 12, item 10)', () => {
  it('a window (and max) in the defaults apply to routes that leave them out', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { global: false, store, window: '15m', max: 3 });
    app.get('/window-only', { config: { rateLimit: { max: 1 } } }, async () => 'ok');
    app.get('/all-defaults', { config: { rateLimit: {} } }, async () => 'ok');
    app.get('/free', async () => 'ok');
    const base = await start(app);
    const [w1, w2] = await getMany(2, `${base}/window-only`);
    expect(w1?.headers.get('ratelimit-policy')).toBe('"GET /window-only";q=1;w=900');
    expect(w2?.status).toBe(429);
    const all = await getMany(4, `${base}/all-defaults`);
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(all[0]?.headers.get('ratelimit-policy')).toBe('"GET /all-defaults";q=3;w=900');
    expect((await get(`${base}/free`)).headers.get('ratelimit-policy')).toBeNull();
  });

  it('a route giving policies does not inherit max/window, and one giving max does not inherit policies', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { global: false, store, window: '1m', max: 3 });
    app.get(
      '/multi',
      { config: { rateLimit: { policies: [{ max: 1, window: '1s' }], name: 'multi' } } },
      async () => 'ok',
    );
    const base = await start(app);
    expect((await get(`${base}/multi`)).headers.get('ratelimit-policy')).toBe('"multi";q=1;w=1');

    const other = fastify();
    await other.register(rateLimit, { global: false, store, policies: [{ max: 9, window: '1h' }] });
    other.get('/single', { config: { rateLimit: { max: 2, window: '1m', name: 'single' } } }, async () => 'ok');
    other.get('/inherits', { config: { rateLimit: { name: 'inherits' } } }, async () => 'ok');
    const otherBase = await start(other);
    expect((await get(`${otherBase}/single`)).headers.get('ratelimit-policy')).toBe('"single";q=2;w=60');
    expect((await get(`${otherBase}/inherits`)).headers.get('ratelimit-policy')).toBe('"inherits";q=9;w=3600');
  });
});
