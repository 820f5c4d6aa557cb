import { rateLimit } from '@tollgate/fastify';
import { describe, expect, it } from 'vitest';
import {
  closeAppsAfterEach,
  counting,
  fastify,
  get,
  getMany,
  head,
  manualClock,
  QUOTA_EXCEEDED,
  rateLimitHeaderNames,
  sfList,
  start,
  storeKeys,
} from './support.js';

closeAppsAfterEach();

describe('registered on the app', () => {
  it('limits every route, with one bucket per client across routes', async () => {
    const { store } = manualClock();
    const app = fastify();
    const route = counting();
    await app.register(rateLimit, { max: 3, window: '1m', store, name: 'app' });
    app.get('/a', route.handler);
    app.get('/b', route.handler);
    const base = await start(app);

    const replies = [await get(`${base}/a`), await get(`${base}/b`), await get(`${base}/a`), await get(`${base}/b`)];
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(replies.map((r) => r.headers.get('ratelimit'))).toEqual([
      '"app";r=2;t=20',
      '"app";r=1;t=40',
      '"app";r=0;t=60',
      '"app";r=0;t=60',
    ]);
    const refused = replies[3];
    expect(refused?.headers.get('retry-after')).toBe('20');
    expect(refused?.headers.get('content-type')).toMatch(/^application\/problem\+json(;|$)/);
    expect(refused?.json).toMatchObject({ type: QUOTA_EXCEEDED, status: 429, 'violated-policies': ['app'] });
    expect(route.calls()).toBe(3);
    expect(storeKeys(store)).toHaveLength(1);
  });

  it('also limits a route registered before the plugin in the same context', async () => {
    const { store } = manualClock();
    const app = fastify();
    const route = counting();
    app.get('/early', route.handler);
    await app.register(rateLimit, { max: 1, window: '1m', store });
    const base = await start(app);
    expect((await getMany(2, `${base}/early`)).map((r) => r.status)).toEqual([200, 429]);
    expect(route.calls()).toBe(1);
  });
});

describe('route config.rateLimit stacks with the app-wide limit', () => {
  async function stackedApp() {
    const { store } = manualClock();
    const app = fastify();
    const route = counting();
    await app.register(rateLimit, { max: 3, window: '1m', store, name: 'global' });
    app.get('/x', { config: { rateLimit: { max: 1, window: '1m', name: 'route' } } }, route.handler);
    app.get('/y', route.handler);
    return { base: await start(app), calls: route.calls };
  }

  it('lists both policies on a request that passes both', async () => {
    const { base } = await stackedApp();
    const r = await get(`${base}/x`);
    expect(r.status).toBe(200);
    expect(r.headers.get('ratelimit-policy')).toBe('"global";q=3;w=60, "route";q=1;w=60');
    expect(r.headers.get('ratelimit')).toBe('"global";r=2;t=20, "route";r=0;t=60');
  });

  it('the stricter route limit refuses, and violated-policies names only it', async () => {
    const { base, calls } = await stackedApp();
    await get(`${base}/x`);
    const r = await get(`${base}/x`);
    expect(r.status).toBe(429);
    expect(r.json?.['violated-policies']).toEqual(['route']);
    expect(r.headers.get('ratelimit-policy')).toBe('"global";q=3;w=60, "route";q=1;w=60');
    expect(r.headers.get('ratelimit')).toBe('"global";r=1;t=40, "route";r=0;t=60');
    expect(r.headers.get('retry-after')).toBe('60');
    expect(calls()).toBe(1);
  });

  it('when the app-wide limit refuses, violated-policies names it and the route limit is not debited', async () => {
    const { base, calls } = await stackedApp();
    expect((await getMany(3, `${base}/y`)).map((r) => r.status)).toEqual([200, 200, 200]);
    const r = await get(`${base}/x`);
    expect(r.status).toBe(429);
    expect(r.json?.['violated-policies']).toEqual(['global']);
    expect(r.headers.get('ratelimit-policy')).toBe('"global";q=3;w=60');
    expect(r.headers.get('retry-after')).toBe('20');
    expect(calls()).toBe(3);
  });

  it('without a name the route policy gets its own name, distinct from the app-wide one', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { max: 5, window: '1m', store });
    app.get('/x', { config: { rateLimit: { max: 1, window: '1m' } } }, async () => 'ok');
    const base = await start(app);
    const ok = await get(`${base}/x`);
    const policies = sfList(ok.headers.get('ratelimit-policy'));
    expect(policies.map((p) => p.params)).toEqual([
      { q: '5', w: '60' },
      { q: '1', w: '60' },
    ]);
    expect(policies[0]?.name).toBe('"5-per-1m"');
    expect(policies[1]?.name).not.toBe(policies[0]?.name);
    const refused = await get(`${base}/x`);
    expect(refused.status).toBe(429);
    expect(refused.json?.['violated-policies']).toEqual([JSON.parse(policies[1]?.name as string)]);
  });
});

describe('config.rateLimit: false', () => {
  it('exempts the route: no headers, never 429, and it does not spend the app-wide bucket', async () => {
    const { store } = manualClock();
    const app = fastify();
    const health = counting();
    await app.register(rateLimit, { max: 1, window: '1m', store });
    app.get('/health', { config: { rateLimit: false } }, health.handler);
    app.get('/x', async () => 'ok');
    const base = await start(app);

    const before = await getMany(3, `${base}/health`);
    expect((await getMany(2, `${base}/x`)).map((r) => r.status)).toEqual([200, 429]);
    const after = await getMany(2, `${base}/health`);
    const headReply = await head(`${base}/health`);
    for (const r of [...before, ...after, headReply]) {
      expect(r.status).toBe(200);
      expect(rateLimitHeaderNames(r.headers)).toEqual([]);
      expect(r.headers.get('retry-after')).toBeNull();
    }
    expect(health.calls()).toBe(6);
  });
});

describe('registered in an encapsulated context', () => {
  it("limits only that context's routes, not sibling or parent routes", async () => {
    const { store } = manualClock();
    const app = fastify();
    const inner = counting();
    const other = counting();
    await app.register(async (child) => {
      await child.register(rateLimit, { max: 1, window: '1m', store, name: 'inner' });
      child.get('/in', inner.handler);
    });
    await app.register(async (sibling) => {
      sibling.get('/sibling', other.handler);
    });
    app.get('/root', other.handler);
    const base = await start(app);

    const limited = await getMany(2, `${base}/in`);
    expect(limited.map((r) => r.status)).toEqual([200, 429]);
    expect(limited[0]?.headers.get('ratelimit-policy')).toBe('"inner";q=1;w=60');
    expect(limited[1]?.json?.['violated-policies']).toEqual(['inner']);

    const free = [...(await getMany(3, `${base}/sibling`)), ...(await getMany(3, `${base}/root`))];
    for (const r of free) {
      expect(r.status).toBe(200);
      expect(rateLimitHeaderNames(r.headers)).toEqual([]);
    }
    expect(inner.calls()).toBe(1);
    expect(other.calls()).toBe(6);
  });

  it('applies to routes of nested contexts inside it, under a prefix', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(
      async (api) => {
        await api.register(rateLimit, { max: 1, window: '1m', store, name: 'api' });
        await api.register(async (v1) => {
          v1.get('/things', async () => 'things');
        });
      },
      { prefix: '/api' },
    );
    app.get('/things', async () => 'root things');
    const base = await start(app);
    expect((await getMany(2, `${base}/api/things`)).map((r) => r.status)).toEqual([200, 429]);
    expect((await getMany(2, `${base}/things`)).map((r) => r.status)).toEqual([200, 200]);
  });
});

describe('global: false', () => {
  it('applies no app-wide limit; routes with config.rateLimit get limits built on the plugin options', async () => {
    const { store } = manualClock();
    const app = fastify();
    const free = counting();
    const limited = counting();
    await app.register(rateLimit, { global: false, store, headers: 'legacy' });
    app.get('/free', free.handler);
    app.get('/limited', { config: { rateLimit: { max: 1, window: '1m' } } }, limited.handler);
    const base = await start(app);

    const freeReplies = await getMany(4, `${base}/free`);
    for (const r of freeReplies) {
      expect(r.status).toBe(200);
      expect(rateLimitHeaderNames(r.headers)).toEqual([]);
    }

    const [ok, refused] = await getMany(2, `${base}/limited`);
    expect(ok?.status).toBe(200);
    // headers: 'legacy' from the plugin options.
    expect(rateLimitHeaderNames(ok?.headers as Headers)).toEqual([
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
    ]);
    expect(ok?.headers.get('x-ratelimit-limit')).toBe('1');
    expect(ok?.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(refused?.status).toBe(429);
    expect(refused?.headers.get('retry-after')).toBe('60');
    expect(refused?.headers.get('x-ratelimit-remaining')).toBe('0');
    // store from the plugin options: the route's bucket lives there.
    expect(storeKeys(store)).toHaveLength(1);
    expect([free.calls(), limited.calls()]).toEqual([4, 1]);
  });

  it('a route option overrides the plugin default', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { global: false, store, headers: 'legacy' });
    app.get(
      '/r',
      { config: { rateLimit: { max: 2, window: '1m', headers: 'draft-11', name: 'r' } } },
      async () => 'ok',
    );
    const base = await start(app);
    const r = await get(`${base}/r`);
    expect(r.headers.get('ratelimit')).toBe('"r";r=1;t=30');
    expect(r.headers.get('x-ratelimit-limit')).toBeNull();
  });

  it('a handler given at register answers the route limits', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, {
      global: false,
      store,
      handler: (_request, reply) => reply.send({ from: 'plugin handler' }),
    });
    app.get('/r', { config: { rateLimit: { max: 1, window: '1m' } } }, async () => 'ok');
    const base = await start(app);
    const [, refused] = await getMany(2, `${base}/r`);
    expect(refused?.status).toBe(429);
    expect(refused?.json).toEqual({ from: 'plugin handler' });
  });
});

describe('route limiters without a name', () => {
  it('two routes with the same policy get separate buckets', async () => {
    const { store } = manualClock();
    const app = fastify();
    const route = counting();
    await app.register(rateLimit, { global: false, store });
    app.get('/a', { config: { rateLimit: { max: 1, window: '1m' } } }, route.handler);
    app.get('/b', { config: { rateLimit: { max: 1, window: '1m' } } }, route.handler);
    const base = await start(app);

    const a1 = await get(`${base}/a`);
    const b1 = await get(`${base}/b`);
    expect([a1.status, b1.status]).toEqual([200, 200]);
    expect((await get(`${base}/a`)).status).toBe(429);
    expect((await get(`${base}/b`)).status).toBe(429);
    expect(route.calls()).toBe(2);
    expect(storeKeys(store)).toHaveLength(2);
    expect(a1.headers.get('ratelimit-policy')).not.toBe(b1.headers.get('ratelimit-policy'));
  });

  it('one route template is one bucket, whatever the path parameters', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { global: false, store });
    app.get('/users/:id', { config: { rateLimit: { max: 2, window: '1m' } } }, async () => 'user');
    const base = await start(app);
    const statuses = [];
    for (const id of ['1', '2', '3']) statuses.push((await get(`${base}/users/${id}`)).status);
    expect(statuses).toEqual([200, 200, 429]);
    expect(storeKeys(store)).toHaveLength(1);
  });

  it('the same route in two instances of the app shares its bucket through a shared store', async () => {
    const { store } = manualClock();
    const bases: string[] = [];
    for (let i = 0; i < 2; i++) {
      const app = fastify();
      await app.register(rateLimit, { global: false, store });
      app.get('/a', { config: { rateLimit: { max: 1, window: '1m' } } }, async () => 'ok');
      bases.push(await start(app));
    }
    expect((await get(`${bases[0]}/a`)).status).toBe(200);
    expect((await get(`${bases[1]}/a`)).status).toBe(429);
  });
});

describe('onRequest hooks already on a route', () => {
  it('still run alongside the route limiter, as an array or a single function', async () => {
    const { store } = manualClock();
    const app = fastify();
    const ran: string[] = [];
    await app.register(rateLimit, { global: false, store });
    app.get(
      '/array',
      {
        onRequest: [
          async (_request, reply) => {
            ran.push('array');
            reply.header('x-hook', 'array');
          },
        ],
        config: { rateLimit: { max: 1, window: '1m', name: 'array' } },
      },
      async () => 'ok',
    );
    app.get(
      '/single',
      {
        onRequest: (_request, reply, done) => {
          ran.push('single');
          reply.header('x-hook', 'single');
          done();
        },
        config: { rateLimit: { max: 1, window: '1m', name: 'single' } },
      },
      async () => 'ok',
    );
    const base = await start(app);

    const arr = await getMany(2, `${base}/array`);
    const single = await getMany(2, `${base}/single`);
    expect(arr.map((r) => r.status)).toEqual([200, 429]);
    expect(single.map((r) => r.status)).toEqual([200, 429]);
    expect(arr.map((r) => r.headers.get('x-hook'))).toEqual(['array', 'array']);
    expect(single.map((r) => r.headers.get('x-hook'))).toEqual(['single', 'single']);
    expect(arr[0]?.headers.get('ratelimit-policy')).toBe('"array";q=1;w=60');
    expect(single[0]?.headers.get('ratelimit-policy')).toBe('"single";q=1;w=60');
    expect(ran).toEqual(['array', 'array', 'single', 'single']);
  });

  it('a route hook that answers first keeps the request from the limiter', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { global: false, store });
    app.get(
      '/guarded',
      {
        onRequest: async (request, reply) => {
          if (request.headers['x-deny'] === '1') return reply.code(403).send({ denied: true });
        },
        config: { rateLimit: { max: 1, window: '1m' } },
      },
      async () => 'ok',
    );
    const base = await start(app);
    expect((await getMany(3, `${base}/guarded`, { 'x-deny': '1' })).map((r) => r.status)).toEqual([403, 403, 403]);
    expect(storeKeys(store)).toHaveLength(0);
    expect((await get(`${base}/guarded`)).status).toBe(200);
  });
});

describe('HEAD requests to a GET route', () => {
  it('are limited by the app-wide limit, sharing the bucket with GET', async () => {
    const { store } = manualClock();
    const app = fastify();
    const route = counting();
    await app.register(rateLimit, { max: 2, window: '1m', store, name: 'app' });
    app.get('/r', route.handler);
    const base = await start(app);

    const first = await head(`${base}/r`);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit')).toBe('"app";r=1;t=30');
    expect((await get(`${base}/r`)).status).toBe(200);
    const refusedHead = await head(`${base}/r`);
    expect(refusedHead.status).toBe(429);
    expect(refusedHead.text).toBe('');
    expect(refusedHead.headers.get('retry-after')).toBe('30');
    expect(refusedHead.headers.get('ratelimit')).toBe('"app";r=0;t=60');
    expect((await get(`${base}/r`)).status).toBe(429);
    expect(route.calls()).toBe(2);
  });

  it("are limited by the GET route's own config.rateLimit, in the same bucket as GET", async () => {
    const { store } = manualClock();
    const app = fastify();
    const route = counting();
    await app.register(rateLimit, { global: false, store });
    app.get('/r', { config: { rateLimit: { max: 2, window: '1m' } } }, route.handler);
    const base = await start(app);

    const viaGet = await get(`${base}/r`);
    const viaHead = await head(`${base}/r`);
    const again = await get(`${base}/r`);
    // HEAD runs the GET handler too: alternating GET and HEAD must not double the route's quota.
    expect([viaGet.status, viaHead.status, again.status]).toEqual([200, 200, 429]);
    expect(route.calls()).toBe(2);
    expect(storeKeys(store)).toHaveLength(1);
  });

  it('report the same route policy as GET', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { global: false, store });
    app.get('/r', { config: { rateLimit: { max: 2, window: '1m' } } }, async () => 'ok');
    const base = await start(app);
    const viaGet = await get(`${base}/r`);
    const viaHead = await head(`${base}/r`);
    expect(viaHead.status).toBe(200);
    expect(viaHead.headers.get('ratelimit-policy')).not.toBeNull();
    expect(viaHead.headers.get('ratelimit-policy')).toBe(viaGet.headers.get('ratelimit-policy'));
  });

  it('refused by a route limit, get 429 with Retry-After and the RateLimit fields but no body', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { global: false, store });
    app.get('/r', { config: { rateLimit: { max: 1, window: '1m', name: 'r' } } }, async () => 'ok');
    const base = await start(app);
    const [ok, refused] = [await head(`${base}/r`), await head(`${base}/r`)];
    expect(ok.status).toBe(200);
    expect(refused.status).toBe(429);
    expect(refused.text).toBe('');
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.headers.get('ratelimit')).toBe('"r";r=0;t=60');
  });
});

describe('a custom handler(request, reply, decision)', () => {
  it('sends the 429 its own way; the status stays 429 and the RateLimit fields are present', async () => {
    const { store } = manualClock();
    const app = fastify();
    const route = counting();
    const seen: Array<{ allowed: boolean; retryAfterMs: number; url: string }> = [];
    await app.register(rateLimit, {
      max: 1,
      window: '1m',
      store,
      name: 'custom',
      handler: async (request, reply, decision) => {
        seen.push({ allowed: decision.allowed, retryAfterMs: decision.retryAfterMs, url: request.url });
        await new Promise((resolve) => setImmediate(resolve));
        reply.header('x-custom', 'yes');
        return reply.send({ error: 'slow down', retryInMs: decision.retryAfterMs });
      },
    });
    app.get('/r', route.handler);
    const base = await start(app);

    const [ok, refused] = await getMany(2, `${base}/r`);
    expect(ok?.status).toBe(200);
    expect(refused?.status).toBe(429);
    expect(refused?.json).toEqual({ error: 'slow down', retryInMs: 60_000 });
    expect(refused?.headers.get('content-type')).toMatch(/^application\/json/);
    expect(refused?.headers.get('x-custom')).toBe('yes');
    expect(refused?.headers.get('retry-after')).toBe('60');
    expect(refused?.headers.get('ratelimit-policy')).toBe('"custom";q=1;w=60');
    expect(refused?.headers.get('ratelimit')).toBe('"custom";r=0;t=60');
    expect(seen).toEqual([{ allowed: false, retryAfterMs: 60_000, url: '/r' }]);
    expect(route.calls()).toBe(1);
  });

  it('a route config handler answers that route only', async () => {
    const { store } = manualClock();
    const app = fastify();
    await app.register(rateLimit, { max: 5, window: '1m', store, name: 'app' });
    app.get(
      '/own',
      {
        config: {
          rateLimit: { max: 1, window: '1m', name: 'own', handler: (_request, reply) => reply.send({ from: 'route' }) },
        },
      },
      async () => 'ok',
    );
    app.get('/other', { config: { rateLimit: { max: 1, window: '1m', name: 'other' } } }, async () => 'ok');
    const base = await start(app);

    const [, own] = await getMany(2, `${base}/own`);
    expect(own?.status).toBe(429);
    expect(own?.json).toEqual({ from: 'route' });
    expect(own?.headers.get('ratelimit-policy')).toBe('"app";q=5;w=60, "own";q=1;w=60');

    const [, other] = await getMany(2, `${base}/other`);
    expect(other?.status).toBe(429);
    expect(other?.json).toMatchObject({ type: QUOTA_EXCEEDED, 'violated-policies': ['other'] });
  });
});

describe("key 'ip' follows Fastify's trustProxy", () => {
  const xff = (value: string) => ({ 'x-forwarded-for': value });

  async function appWith(trustProxy: boolean | string | undefined) {
    const { store } = manualClock();
    const app = fastify(trustProxy === undefined ? {} : { trustProxy });
    await app.register(rateLimit, { max: 1, window: '1m', store });
    app.get('/r', async () => 'ok');
    const url = `${await start(app)}/r`;
    return { url, ips: () => storeKeys(store).map((k) => k.split(':').pop()) };
  }

  it('without trustProxy, X-Forwarded-For is ignored', async () => {
    const { url, ips } = await appWith(undefined);
    expect((await get(url, xff('203.0.113.1'))).status).toBe(200);
    expect((await get(url, xff('198.51.100.7'))).status).toBe(429);
    expect(ips()).toEqual(['127.0.0.1']);
  });

  it('trustProxy: true keys by the X-Forwarded-For client', async () => {
    const { url, ips } = await appWith(true);
    expect((await get(url, xff('203.0.113.1'))).status).toBe(200);
    expect((await get(url, xff('198.51.100.7'))).status).toBe(200);
    expect((await get(url, xff('203.0.113.1'))).status).toBe(429);
    expect(ips().sort()).toEqual(['198.51.100.7', '203.0.113.1']);
  });

  it("trustProxy: '127.0.0.1' keys by the address the loopback proxy appended, not the one the client claims", async () => {
    const { url, ips } = await appWith('127.0.0.1');
    expect((await get(url, xff('10.0.0.1, 203.0.113.9'))).status).toBe(200);
    expect((await get(url, xff('10.0.0.2, 203.0.113.9'))).status).toBe(429);
    expect(ips()).toEqual(['203.0.113.9']);
  });
});
