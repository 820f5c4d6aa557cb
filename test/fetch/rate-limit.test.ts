import {
  ErrorCodes,
  MemoryStore,
  metricsHandler,
  rateLimit,
  rateLimitOf,
  rateLimitsOf,
  TollgateError,
  telemetry,
} from '@tollgate/fetch';
import { afterEach, describe, expect, it } from 'vitest';
import { type NodeBindings, serveFetch } from '../helpers/fetch-server.js';

const opened: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((close) => close()));
});

async function serve(fetch: (request: Request, env: NodeBindings) => Response | Promise<Response>): Promise<string> {
  const server = await serveFetch(fetch);
  opened.push(server.close);
  return server.url;
}

const silent = { info() {}, warn() {}, error() {} };
const frozen = () => new MemoryStore({ now: () => 1_764_000_000_000 });

/** What a route handler, Bun.serve or Deno.serve calls: a request and the runtime's own second argument. */
const request = (headers: Record<string, string> = {}) => new Request('http://127.0.0.1/hello', { headers });

describe('rateLimit() around a fetch handler, over HTTP (@hono/node-server)', () => {
  it('adds the RateLimit fields to the handler’s response, then refuses with problem+json without running it', async () => {
    let calls = 0;
    const url = await serve(
      rateLimit({ max: 2, window: '1m', store: frozen() })(() => {
        calls += 1;
        return Response.json({ ok: true });
      }),
    );
    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-policy')).toBe('"2-per-1m";q=2;w=60');
    expect(first.headers.get('ratelimit')).toBe('"2-per-1m";r=1;t=30');
    await fetch(url);
    const refused = await fetch(url);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(JSON.parse(await refused.text())).toMatchObject({ status: 429, 'violated-policies': ['2-per-1m'] });
    expect(calls).toBe(2);
  });

  it('keys by the socket address @hono/node-server passes, never by X-Forwarded-For unless trustProxy says so', async () => {
    const untrusted = await serve(rateLimit({ max: 1, window: '1h', store: frozen() })(() => new Response('ok')));
    expect((await fetch(untrusted, { headers: { 'x-forwarded-for': '203.0.113.1' } })).status).toBe(200);
    expect((await fetch(untrusted, { headers: { 'x-forwarded-for': '203.0.113.2' } })).status).toBe(429);

    const behindOne = await serve(
      rateLimit({ max: 1, window: '1h', trustProxy: 1, store: frozen() })(() => new Response('ok')),
    );
    const from = (xff: string) => fetch(behindOne, { headers: { 'x-forwarded-for': xff } }).then((r) => r.status);
    // One proxy of ours appends the address it saw: the rightmost entry is the client, the rest are the client's word.
    expect(await from('198.51.100.9, 203.0.113.1')).toBe(200);
    expect(await from('198.51.100.10, 203.0.113.1')).toBe(429);
    expect(await from('203.0.113.2')).toBe(200);
  });

  it('adds its fields to a response whose headers are immutable (a redirect), and stacks with another limiter', async () => {
    const store = frozen();
    const app = rateLimit({ max: 10, window: '1m', name: 'app', store })(
      rateLimit({ max: 1, window: '1m', name: 'inner', store })(() => Response.redirect('http://127.0.0.1/next', 303)),
    );
    const url = await serve(app);
    const first = await fetch(url, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('http://127.0.0.1/next');
    expect(first.headers.get('ratelimit-policy')).toBe('"app";q=10;w=60, "inner";q=1;w=60');
    const second = await fetch(url, { redirect: 'manual' });
    expect(second.status).toBe(429);
    expect(JSON.parse(await second.text())['violated-policies']).toEqual(['inner']);
  });

  it('serves the metrics and the span-less duration of a wrapped handler by its route', async () => {
    const handler = telemetry({ route: '/hello/[name]' })(
      rateLimit({ max: 100, window: '1m', store: frozen() })((_req: Request, _env: NodeBindings) => new Response('hi')),
    );
    const metrics = metricsHandler();
    const url = await serve((req, env) =>
      new URL(req.url).pathname === '/metrics' ? metrics(req) : handler(req, env),
    );
    expect((await fetch(`${url}/hello/ada`)).status).toBe(200);
    const scrape = await fetch(`${url}/metrics`);
    expect(scrape.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await scrape.text()).toMatch(
      /^http_server_request_duration_seconds_count\{[^}]*http_route="\/hello\/\[name\]"[^}]*\} 1$/m,
    );
  });
});

describe('Bun.serve, Deno.serve and Next.js-shaped handlers, under Node’s own fetch types', () => {
  it('Bun: the address is server.requestIP(request)', async () => {
    const limited = rateLimit({ max: 1, window: '1h', store: frozen() })(
      (_req: Request, _server: unknown) => new Response('ok'),
    );
    const bun = (address: string) => ({ requestIP: () => ({ address, family: 'IPv4', port: 40000 }) });
    expect((await limited(request(), bun('198.51.100.1'))).status).toBe(200);
    expect((await limited(request(), bun('198.51.100.1'))).status).toBe(429);
    expect((await limited(request(), bun('198.51.100.2'))).status).toBe(200);
  });

  it('Deno: the address is info.remoteAddr.hostname, and IPv6 clients share their /64', async () => {
    const limited = rateLimit({ max: 1, window: '1h', store: frozen() })(
      (_req: Request, _info: unknown) => new Response('ok'),
    );
    const deno = (hostname: string) => ({ remoteAddr: { transport: 'tcp', hostname, port: 40000 } });
    expect((await limited(request(), deno('2001:db8:1:2::1'))).status).toBe(200);
    expect((await limited(request(), deno('2001:db8:1:2::ffff'))).status).toBe(429);
    expect((await limited(request(), deno('2001:db8:1:3::1'))).status).toBe(200);
  });

  it('Next.js passes no address: a request is refused with 500 and a log line saying what to set', async () => {
    const errors: string[] = [];
    const logger = { ...silent, error: (_fields: object, message: string) => errors.push(message) };
    const GET = rateLimit({ max: 5, window: '1m', logger, store: frozen() })(
      (_req: Request, _ctx: { params: Promise<Record<string, string>> }) => new Response('ok'),
    );
    const reply = await GET(request({ 'x-forwarded-for': '203.0.113.1' }), { params: Promise.resolve({}) });
    expect(reply.status).toBe(500);
    expect(reply.headers.get('content-type')).toBe('application/problem+json');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('clientAddress');
  });

  it('Next.js behind a proxy that sets X-Real-IP: clientAddress reads it, grouped as any address', async () => {
    const GET = rateLimit({
      max: 1,
      window: '1h',
      clientAddress: (req) => req.headers.get('x-real-ip'),
      store: frozen(),
    })(() => new Response('ok'));
    expect((await GET(request({ 'x-real-ip': '::ffff:198.51.100.7' }))).status).toBe(200);
    expect((await GET(request({ 'x-real-ip': '198.51.100.7' }))).status).toBe(429);
    expect((await GET(request({ 'x-real-ip': '198.51.100.8' }))).status).toBe(200);
  });

  it('check() answers middleware.ts: the refusal to send, or null', async () => {
    const limit = rateLimit({ max: 1, window: '1h', clientAddress: () => '198.51.100.1', store: frozen() });
    expect(await limit.check(request())).toBeNull();
    const refused = await limit.check(request());
    expect(refused?.status).toBe(429);
    expect(refused?.headers.get('retry-after')).toBe('3600');
    expect(refused?.headers.get('ratelimit')).toBe('"1-per-1h";r=0;t=3600');
  });

  it('a custom handler’s response gets RateLimit and Retry-After', async () => {
    const limited = rateLimit({
      max: 1,
      window: '1m',
      key: () => 'one',
      handler: (_req, decision) => Response.json({ wait: decision.retryAfterMs }, { status: 429 }),
      store: frozen(),
    })(() => new Response('ok'));
    await limited(request());
    const refused = await limited(request());
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ wait: 60_000 });
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.headers.get('ratelimit')).toBe('"1-per-1m";r=0;t=60');
  });

  it('key, skip and cost get the Request, and a thrown handler error reaches the caller', async () => {
    const limited = rateLimit({
      max: 10,
      window: '1m',
      key: async (req) => new URL(req.url).searchParams.get('user') ?? 'anon',
      skip: (req) => req.headers.get('x-internal') === 'yes',
      cost: (req) => (req.method === 'POST' ? 5 : 1),
      store: frozen(),
    })((req) => {
      if (req.headers.has('x-boom')) throw new Error('boom');
      return new Response('ok');
    });
    const at = (init: RequestInit = {}) => limited(new Request('http://127.0.0.1/?user=ada', init));
    expect((await at({ method: 'POST' })).headers.get('ratelimit')).toBe('"10-per-1m";r=5;t=30');
    expect((await at({ headers: { 'x-internal': 'yes' } })).headers.get('ratelimit')).toBeNull();
    expect((await at()).headers.get('ratelimit')).toBe('"10-per-1m";r=4;t=36');
    await expect(at({ headers: { 'x-boom': '1' } })).rejects.toThrow('boom');
  });
});

describe('the decision in the handler', () => {
  it('rateLimitOf(request) is the last wrapper’s decision, rateLimitsOf(request) each one’s, and keyFor names the bucket', async () => {
    const store = frozen();
    const outer = rateLimit({ max: 10, window: '1m', name: 'app', store, clientAddress: () => '198.51.100.4' });
    const inner = rateLimit({ max: 3, window: '1m', name: 'search', store, clientAddress: () => '198.51.100.4' });
    const handler = outer(
      inner((request: Request) =>
        Response.json({
          last: rateLimitOf(request)?.name,
          left: rateLimitOf(request)?.remaining,
          all: Object.keys(rateLimitsOf(request)),
        }),
      ),
    );
    expect(await (await handler(request())).json()).toEqual({ last: 'search', left: 2, all: ['app', 'search'] });
    expect(await inner.keyFor(request())).toBe('198.51.100.4');
    expect(rateLimitOf(request())).toBeUndefined();
    expect(rateLimitsOf(request())).toEqual({});
  });

  it('a Request that takes no properties (frozen) still gets its address and decision', async () => {
    const limited = rateLimit({ max: 1, window: '1m', store: frozen() })((request: Request, _server: unknown) =>
      Response.json({ left: rateLimitOf(request)?.remaining }),
    );
    const server = { requestIP: () => ({ address: '198.51.100.30', family: 'IPv4', port: 1 }) };
    const first = await limited(Object.freeze(request()), server);
    expect(await first.json()).toEqual({ left: 0 });
    expect((await limited(Object.freeze(request()), server)).status).toBe(429);
  });
});

describe('options', () => {
  it('refuses a bad clientAddress, trustProxy: true and wrapping a non-function, with coded errors', () => {
    const bad = [
      () => rateLimit({ max: 1, window: '1m', clientAddress: 'x-real-ip' as never }),
      () => rateLimit({ max: 1, window: '1m', trustProxy: true as never }),
      () => rateLimit({ max: 1, window: '1m' })('nope' as never),
      () => telemetry({ route: 42 as never }),
    ];
    for (const make of bad) {
      let thrown: unknown;
      try {
        make();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TollgateError);
      expect((thrown as TollgateError).code).toBe(ErrorCodes.INVALID_OPTION);
    }
  });
});
