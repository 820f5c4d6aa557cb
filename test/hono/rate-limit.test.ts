import { getConnInfo } from '@hono/node-server/conninfo';
import { ErrorCodes, MemoryStore, rateLimit, TollgateError } from '@tollgate/hono';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { afterEach, describe, expect, it } from 'vitest';
import { serveFetch } from '../helpers/fetch-server.js';

const opened: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((close) => close()));
});

async function serve(app: Hono): Promise<string> {
  const server = await serveFetch(app.fetch);
  opened.push(server.close);
  return server.url;
}

const frozen = () => new MemoryStore({ now: () => 1_764_000_000_000 });

describe('rateLimit() in a Hono app on @hono/node-server', () => {
  it('app-wide and per route: both policies reported, the route’s refusal names it, handlers not run', async () => {
    let calls = 0;
    const store = frozen();
    const app = new Hono();
    app.use(rateLimit({ max: 10, window: '1m', name: 'app', store }));
    app.post('/login', rateLimit({ max: 1, window: '15m', name: 'login', store }), (c) => {
      calls += 1;
      return c.text('welcome');
    });
    // A Response the handler builds itself, not through the context: the fields still reach it.
    app.get('/raw', () => new Response('raw'));
    const url = await serve(app);

    const first = await fetch(`${url}/login`, { method: 'POST' });
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-policy')).toBe('"app";q=10;w=60, "login";q=1;w=900');
    const second = await fetch(`${url}/login`, { method: 'POST' });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('900');
    expect(second.headers.get('content-type')).toBe('application/problem+json');
    expect(JSON.parse(await second.text())['violated-policies']).toEqual(['login']);
    expect(calls).toBe(1);

    const raw = await fetch(`${url}/raw`);
    expect(await raw.text()).toBe('raw');
    expect(raw.headers.get('ratelimit')).toBe('"app";r=7;t=18');
  });

  it('a refusal keeps the headers earlier middleware set on the context (CORS), so a browser can read the 429', async () => {
    const app = new Hono();
    app.use(cors({ origin: 'https://app.example' }));
    app.use(rateLimit({ max: 1, window: '1m', store: frozen() }));
    app.get('/', (c) => c.json({ ok: true }));
    const url = await serve(app);
    const headers = { origin: 'https://app.example' };
    await fetch(url, { headers });
    const refused = await fetch(url, { headers });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(refused.headers.get('retry-after')).toBe('60');
  });

  it('key gets the Context: a user set by earlier middleware keys the bucket', async () => {
    const app = new Hono<{ Variables: { user: string } }>();
    app.use(async (c, next) => {
      c.set('user', c.req.header('x-user') ?? 'anonymous');
      await next();
    });
    app.use(rateLimit({ max: 1, window: '1h', key: (c) => `user:${c.get('user')}`, store: frozen() }));
    app.get('/', (c) => c.text('ok'));
    const url = await serve(app as unknown as Hono);
    const as = (user: string) => fetch(url, { headers: { 'x-user': user } }).then((r) => r.status);
    expect([await as('ada'), await as('ada'), await as('bob')]).toEqual([200, 429, 200]);
  });

  it('the address: Hono’s getConnInfo when given, c.env’s socket otherwise; X-Forwarded-For only with trustProxy', async () => {
    for (const options of [{}, { getConnInfo }]) {
      const app = new Hono();
      app.use(rateLimit({ max: 1, window: '1h', store: frozen(), ...options }));
      app.get('/', (c) => c.text('ok'));
      const url = await serve(app);
      expect((await fetch(url, { headers: { 'x-forwarded-for': '203.0.113.1' } })).status).toBe(200);
      expect((await fetch(url, { headers: { 'x-forwarded-for': '203.0.113.2' } })).status).toBe(429);
    }
    const app = new Hono();
    app.use(rateLimit({ max: 1, window: '1h', store: frozen(), getConnInfo, trustProxy: 1 }));
    app.get('/', (c) => c.text('ok'));
    const url = await serve(app);
    const from = (xff: string) => fetch(url, { headers: { 'x-forwarded-for': xff } }).then((r) => r.status);
    expect([await from('203.0.113.1'), await from('198.51.100.1, 203.0.113.1'), await from('203.0.113.2')]).toEqual([
      200, 429, 200,
    ]);
  });

  it('a custom handler answers through the context, with RateLimit and Retry-After', async () => {
    const app = new Hono();
    app.use(
      rateLimit({
        max: 1,
        window: '1m',
        store: frozen(),
        handler: (c, decision) => c.json({ error: 'slow down', retryAfterMs: decision.retryAfterMs }, 429),
      }),
    );
    app.get('/', (c) => c.text('ok'));
    const url = await serve(app);
    await fetch(url);
    const refused = await fetch(url);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ error: 'slow down', retryAfterMs: 60_000 });
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.headers.get('ratelimit')).toBe('"1-per-1m";r=0;t=60');
  });

  it("the handler reads the decision from c.get('rateLimit') and each limiter’s from c.get('rateLimits')", async () => {
    const store = frozen();
    const app = new Hono();
    const search = rateLimit({ max: 3, window: '1m', name: 'search', store });
    app.use(rateLimit({ max: 10, window: '1m', name: 'app', store }));
    app.get('/search', search, (c) =>
      c.json({
        last: c.get('rateLimit')?.name,
        left: c.get('rateLimit')?.remaining,
        all: Object.keys(c.get('rateLimits') ?? {}),
      }),
    );
    app.get('/key', async (c) => c.text((await search.keyFor(c)) ?? 'none'));
    const url = await serve(app);
    expect(await (await fetch(`${url}/search`)).json()).toEqual({ last: 'search', left: 2, all: ['app', 'search'] });
    expect(await (await fetch(`${url}/key`)).text()).toBe('127.0.0.1');
  });

  it('refuses trustProxy: true and a getConnInfo that is not a function, with coded errors', () => {
    for (const options of [{ trustProxy: true }, { getConnInfo: 'node' }]) {
      let thrown: unknown;
      try {
        rateLimit({ max: 1, window: '1m', ...(options as object) });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TollgateError);
      expect((thrown as TollgateError).code).toBe(ErrorCodes.INVALID_OPTION);
    }
  });
});
