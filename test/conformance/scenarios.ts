import { ErrorCodes, type RateLimitInfo, register, type Store, TollgateError } from '@tollgate/core';
import { HttpRateLimiter } from '@tollgate/core/adapter';
import { expect } from 'vitest';
import type { Adapter, AnyOptions, AppSpec, DecisionView, Served } from './adapters.js';

/** What a scenario gets: the adapter under test, a store with a clock it controls, and the store's keys. */
export interface Context {
  adapter: Adapter;
  store: () => Store;
  clock: { now: number };
  storeKeys(): Promise<string[]>;
  /** Runs `spec` on the adapter and closes it afterwards. */
  serve(spec: AppSpec): Promise<Served>;
}

export interface Scenario {
  name: string;
  run(ctx: Context): Promise<void>;
}

interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

async function get(served: Served, path = '/', headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(served.url + path, { headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

async function times(n: number, served: Served, path = '/', headers: Record<string, string> = {}) {
  const replies: Reply[] = [];
  for (let i = 0; i < n; i++) replies.push(await get(served, path, headers));
  return replies;
}

const statuses = (replies: Reply[]) => replies.map((r) => r.status);

/** What the route handler read on the request: `req.rateLimit` and `req.rateLimits` (or the framework's own). */
interface HandlerView {
  rateLimit: DecisionView | null;
  rateLimits: Record<string, DecisionView>;
}
const seen = (reply: Reply): HandlerView => JSON.parse(reply.body) as HandlerView;

/** The scenario table every adapter and store must pass. */
export const scenarios: Scenario[] = [
  {
    name: 'an allowed request reaches the handler and carries RateLimit-Policy and RateLimit',
    async run({ serve, store }) {
      const app = await serve({ limit: { max: 3, window: '1m', store: store() } });
      const reply = await get(app);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('ratelimit-policy')).toBe('"3-per-1m";q=3;w=60');
      expect(reply.headers.get('ratelimit')).toBe('"3-per-1m";r=2;t=20');
      expect(reply.headers.get('retry-after')).toBeNull();
      expect(app.hits()).toBe(1);
    },
  },
  {
    name: 'the (max+1)th request gets 429, Retry-After, problem+json, and never reaches the handler',
    async run({ serve, store }) {
      const app = await serve({ limit: { max: 3, window: '1m', store: store() } });
      expect(statuses(await times(3, app))).toEqual([200, 200, 200]);
      const reply = await get(app);
      expect(reply.status).toBe(429);
      expect(reply.headers.get('retry-after')).toBe('20');
      expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(reply.headers.get('ratelimit')).toBe('"3-per-1m";r=0;t=60');
      const body = JSON.parse(reply.body);
      expect(body).toMatchObject({
        type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
        status: 429,
        'violated-policies': ['3-per-1m'],
      });
      expect(typeof body.title).toBe('string');
      expect(app.hits()).toBe(3);
    },
  },
  {
    name: 'after Retry-After seconds the client is admitted again, and not a second sooner',
    async run({ serve, store, clock }) {
      const app = await serve({ limit: { max: 2, window: '10s', store: store() } });
      await times(2, app);
      const refused = await get(app);
      expect(refused.status).toBe(429);
      const wait = Number(refused.headers.get('retry-after'));
      expect(wait).toBe(5);
      clock.now += (wait - 1) * 1000;
      expect((await get(app)).status).toBe(429);
      clock.now += 1000;
      expect((await get(app)).status).toBe(200);
    },
  },
  {
    name: "key 'token' separates two tokens and never shows a raw token in a store key or header",
    async run({ serve, store, storeKeys }) {
      const secretA = 'sk-live-AAAAAAAAAAAAAAAAAAAAAAAA';
      const secretB = 'sk-live-BBBBBBBBBBBBBBBBBBBBBBBB';
      const app = await serve({ limit: { max: 1, window: '1h', key: 'token', store: store() } });
      const a = { authorization: `Bearer ${secretA}` };
      expect(statuses(await times(2, app, '/', a))).toEqual([200, 429]);
      expect((await get(app, '/', { 'x-api-key': secretA })).status).toBe(429);
      const b = await get(app, '/', { 'x-api-key': secretB });
      expect(b.status).toBe(200);
      const keys = await storeKeys();
      expect(keys.length).toBeGreaterThanOrEqual(2);
      for (const key of keys) {
        expect(key).not.toContain('AAAAAAAA');
        expect(key).not.toContain('BBBBBBBB');
      }
      for (const [name, value] of b.headers) expect(`${name}: ${value}`).not.toContain('BBBBBBBB');
    },
  },
  {
    name: 'without trust proxy, X-Forwarded-For is ignored',
    async run({ serve, store }) {
      const app = await serve({ limit: { max: 1, window: '1h', store: store() } });
      expect((await get(app, '/', { 'x-forwarded-for': '203.0.113.1' })).status).toBe(200);
      expect((await get(app, '/', { 'x-forwarded-for': '203.0.113.2' })).status).toBe(429);
    },
  },
  {
    name: "with the framework's trust proxy on, X-Forwarded-For decides the client",
    async run({ serve, store }) {
      const app = await serve({ limit: { max: 1, window: '1h', store: store() }, trustProxy: true });
      expect((await get(app, '/', { 'x-forwarded-for': '203.0.113.1' })).status).toBe(200);
      expect((await get(app, '/', { 'x-forwarded-for': '203.0.113.1' })).status).toBe(429);
      expect((await get(app, '/', { 'x-forwarded-for': '203.0.113.2' })).status).toBe(200);
    },
  },
  {
    name: 'IPv6 clients in one /64 share a bucket; IPv4-mapped addresses match their IPv4 form',
    async run({ serve, store }) {
      const app = await serve({ limit: { max: 1, window: '1h', store: store() }, trustProxy: true });
      const from = (ip: string) => get(app, '/', { 'x-forwarded-for': ip });
      expect((await from('2001:db8:1:2::1')).status).toBe(200);
      expect((await from('2001:db8:1:2:ffff:ffff:ffff:ffff')).status).toBe(429);
      expect((await from('2001:db8:1:3::1')).status).toBe(200);
      expect((await from('::ffff:198.51.100.7')).status).toBe(200);
      expect((await from('198.51.100.7')).status).toBe(429);
    },
  },
  {
    name: 'stacked limits each decide and both report their policy',
    async run({ serve, store }) {
      const shared = store();
      const app = await serve({
        limit: { max: 10, window: '1m', name: 'app', store: shared },
        apiLimit: { max: 1, window: '1m', name: 'api', store: shared },
      });
      const first = await get(app, '/api/x');
      expect(first.status).toBe(200);
      expect(first.headers.get('ratelimit-policy')).toBe('"app";q=10;w=60, "api";q=1;w=60');
      expect(first.headers.get('ratelimit')).toBe('"app";r=9;t=6, "api";r=0;t=60');
      const second = await get(app, '/api/x');
      expect(second.status).toBe(429);
      expect(JSON.parse(second.body)['violated-policies']).toEqual(['api']);
      expect((await get(app, '/')).status).toBe(200);
      expect(app.hits()).toBe(2);
    },
  },
  {
    name: '`cost` debits the bucket by that amount',
    async run({ serve, store }) {
      const app = await serve({ limit: { max: 10, window: '1m', cost: 4, store: store() } });
      expect((await get(app)).headers.get('ratelimit')).toBe('"10-per-1m";r=6;t=24');
      expect((await get(app)).headers.get('ratelimit')).toBe('"10-per-1m";r=2;t=48');
      const refused = await get(app);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('12');
    },
  },
  {
    name: '`skip` lets a request through uncounted and without headers',
    async run({ serve, store }) {
      const skip = (req: { headers: Record<string, unknown> }) => req.headers['x-internal'] === 'yes';
      const app = await serve({ limit: { max: 1, window: '1m', skip, store: store() } });
      const skipped = await times(3, app, '/', { 'x-internal': 'yes' });
      expect(statuses(skipped)).toEqual([200, 200, 200]);
      expect(skipped[0]?.headers.get('ratelimit')).toBeNull();
      expect(statuses(await times(2, app))).toEqual([200, 429]);
    },
  },
  {
    name: 'bad options throw when the app is built, with the same code and message everywhere',
    async run({ adapter, store }) {
      const bad: AnyOptions[] = [
        { max: 0, window: '1m' },
        { max: 10, window: '1 minute' },
        { max: 10, window: '-5s' },
        { max: Number.NaN, window: '1m' },
        { max: 10, window: '1m', maxx: 5 },
        { max: 10, window: '1m', headers: 'draft-9' },
        { max: 10, window: '1m', key: 'cookie' },
        { max: 10, window: '1m', failMode: 'sometimes' },
      ];
      for (const options of bad) {
        const expected = coreError({ ...options, store: store() });
        const served = await adapter.serve({ limit: { ...options, store: store() } }).then(
          async (app) => {
            await app.close();
            return undefined;
          },
          (error: unknown) => error,
        );
        expect(served, JSON.stringify(options)).toBeInstanceOf(TollgateError);
        expect((served as TollgateError).code).toBe(expected.code);
        expect((served as TollgateError).message).toBe(expected.message);
      }
    },
  },
  {
    name: 'the handler reads the decision on the request, and each stacked limiter by name',
    async run({ serve, store }) {
      const shared = store();
      const app = await serve({
        limit: { max: 10, window: '1m', name: 'app', store: shared },
        apiLimit: { max: 3, window: '1m', name: 'api', cost: 2, store: shared },
      });
      const api = seen(await get(app, '/api/x'));
      expect(api.rateLimit).toEqual({
        name: 'api',
        allowed: true,
        limit: 3,
        remaining: 1,
        resetMs: 40_000,
        resetTime: expect.any(Number),
        key: '127.0.0.1',
        cost: 2,
        mode: 'enforce',
      });
      expect(Object.keys(api.rateLimits).sort()).toEqual(['api', 'app']);
      expect(api.rateLimits.api).toEqual(api.rateLimit);
      expect(api.rateLimits.app).toMatchObject({ name: 'app', limit: 10, remaining: 9, resetMs: 6000, cost: 1 });
      const root = seen(await get(app, '/'));
      expect(root.rateLimit).toMatchObject({ name: 'app', remaining: 8 });
      expect(Object.keys(root.rateLimits)).toEqual(['app']);
      // resetTime is when the bucket is full again, on the server's clock (the stores' clock is the scenario's).
      expect(Math.abs((root.rateLimit?.resetTime ?? 0) - Date.now() - 12_000)).toBeLessThan(5_000);
    },
  },
  {
    name: "reset() on the request's decision refills the bucket that request maps to",
    async run({ serve, store }) {
      const app = await serve({ limit: { max: 2, window: '1h', key: 'token', store: store() } });
      const alice = { authorization: 'Bearer alice-secret-token-0001' };
      const bob = { authorization: 'Bearer bob-secret-token-0002' };
      expect(seen(await get(app, '/', bob)).rateLimit?.remaining).toBe(1);
      expect(seen(await get(app, '/', alice)).rateLimit?.remaining).toBe(1);
      const last = seen(await get(app, '/', { ...alice, 'x-reset': 'yes' })).rateLimit;
      expect(last?.remaining).toBe(0);
      expect(last?.key).not.toContain('alice');
      // Alice's bucket is full again: two more; Bob's is untouched: one more.
      expect(statuses(await times(3, app, '/', alice))).toEqual([200, 200, 429]);
      expect(statuses(await times(2, app, '/', bob))).toEqual([200, 429]);
    },
  },
  {
    name: 'onLimited is called once per refusal with the decision, and never holds the response',
    async run({ serve, store }) {
      const calls: Array<Pick<DecisionView, 'name' | 'allowed' | 'remaining' | 'mode'> & { retryAfterMs: number }> = [];
      const app = await serve({
        limit: {
          max: 1,
          window: '1m',
          name: 'login',
          store: store(),
          onLimited: (req: object, d: RateLimitInfo) => {
            expect(typeof req).toBe('object');
            calls.push({
              name: d.name,
              allowed: d.allowed,
              remaining: d.remaining,
              mode: d.mode,
              retryAfterMs: d.retryAfterMs,
            });
            return new Promise(() => {}); // never settles: the refusal is sent all the same
          },
        },
      });
      expect(statuses(await times(3, app))).toEqual([200, 429, 429]);
      expect(calls).toEqual([
        { name: 'login', allowed: false, remaining: 0, mode: 'enforce', retryAfterMs: 60_000 },
        { name: 'login', allowed: false, remaining: 0, mode: 'enforce', retryAfterMs: 60_000 },
      ]);
      expect(app.hits()).toBe(1);
    },
  },
  {
    name: 'a hook that throws or rejects is logged through the limiter’s logger, throttled, and the request goes on',
    async run({ serve, store }) {
      for (const [i, hook] of [
        () => {
          throw new Error('hook bug');
        },
        async () => {
          throw new Error('hook bug');
        },
      ].entries()) {
        const errors: Array<{ fields: Record<string, unknown>; message: string }> = [];
        const logger = {
          info() {},
          warn() {},
          error: (fields: Record<string, unknown>, message: string) => errors.push({ fields, message }),
        };
        const app = await serve({
          limit: { max: 1, window: '1m', name: `hook-${i}`, store: store(), logger, onLimited: hook },
        });
        const replies = await times(4, app);
        expect(statuses(replies)).toEqual([200, 429, 429, 429]);
        expect(replies[3]?.headers.get('retry-after')).toBe('60');
        await new Promise((resolve) => setTimeout(resolve, 20)); // a rejection is logged when it settles
        expect(errors).toHaveLength(1);
        expect(errors[0]?.message).toBe('tollgate: the onLimited hook failed; the request went on as decided');
        expect(errors[0]?.fields).toMatchObject({ hook: 'onLimited', heldBack: 0, err: expect.any(Error) });
      }
    },
  },
  {
    name: "mode 'shadow' decides and counts but never refuses: no header fields, onWouldLimit, a sampled log line, shadow_limited",
    async run({ serve, store }) {
      // One name for every run (names are a bounded metric label): the counts are compared before and after.
      const name = 'shadow-conformance';
      const before = await decisionCounts(name);
      const would: Array<Pick<DecisionView, 'allowed' | 'mode' | 'remaining'>> = [];
      const limited: unknown[] = [];
      const warnings: Array<{ fields: Record<string, unknown>; message: string }> = [];
      const logger = {
        info() {},
        warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }),
        error() {},
      };
      const app = await serve({
        limit: {
          max: 2,
          window: '1m',
          name,
          mode: 'shadow',
          store: store(),
          logger,
          onWouldLimit: (_req: object, d: RateLimitInfo) =>
            would.push({ allowed: d.allowed, mode: d.mode, remaining: d.remaining }),
          onLimited: () => limited.push(true),
        },
      });
      const replies = await times(4, app);
      expect(statuses(replies)).toEqual([200, 200, 200, 200]);
      expect(app.hits()).toBe(4);
      for (const reply of replies) {
        for (const field of ['ratelimit', 'ratelimit-policy', 'retry-after'])
          expect(reply.headers.get(field)).toBeNull();
      }
      expect(seen(replies[1] as Reply).rateLimit).toMatchObject({ name, allowed: true, remaining: 0, mode: 'shadow' });
      expect(seen(replies[3] as Reply).rateLimit).toMatchObject({ name, allowed: false, remaining: 0, mode: 'shadow' });
      expect(would).toEqual([
        { allowed: false, mode: 'shadow', remaining: 0 },
        { allowed: false, mode: 'shadow', remaining: 0 },
      ]);
      expect(limited).toEqual([]);
      // Sampled: the first would-be refusal is logged, the second held back (at most a line a minute).
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.message).toMatch(
        /^tollgate: shadow mode: this limiter would have refused a request with 429/,
      );
      expect(warnings[0]?.fields).toEqual({ limiter: name, violated: [name], retryAfterMs: 30_000, heldBack: 0 });
      const after = await decisionCounts(name);
      expect({
        allowed: after.allowed - before.allowed,
        shadow_limited: after.shadow_limited - before.shadow_limited,
        limited: after.limited - before.limited,
      }).toEqual({ allowed: 2, shadow_limited: 2, limited: 0 });
    },
  },
  {
    name: "mode 'shadow' sends header fields when asked (never Retry-After), and its buckets are the ones enforcement uses",
    async run({ serve, store }) {
      const name = 'shadow-rollout';
      const shared = store();
      const options = { max: 1, window: '1m', name, store: shared, logger: silent };
      const shadow = await serve({ limit: { ...options, mode: 'shadow', headers: 'draft-11' } });
      const [first, second] = await times(2, shadow);
      expect(statuses([first as Reply, second as Reply])).toEqual([200, 200]);
      expect(second?.headers.get('ratelimit')).toBe(`"${name}";r=0;t=60`);
      expect(second?.headers.get('retry-after')).toBeNull();
      // Enforcing now (the rollout's last step): the same name and policy, the same bucket, already empty.
      const enforced = await serve({ limit: { ...options, mode: 'enforce' } });
      const refused = await get(enforced);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('60');
    },
  },
  {
    name: "a peer library's option name is refused, naming tollgate's equivalent, the same everywhere",
    async run({ adapter, store }) {
      const peers: Array<[string, unknown, string]> = [
        ['windowMs', 60_000, "tollgate's `window`"],
        ['limit', 5, "tollgate's `max`"],
        ['keyGenerator', () => 'k', "tollgate's `key`"],
        ['timeWindow', '1 minute', "tollgate's `window`"],
        ['points', 5, "tollgate's `max`"],
        ['duration', 1, "tollgate's `window`"],
      ];
      for (const [name, value, equivalent] of peers) {
        const options = { max: 10, window: '1m', [name]: value };
        const expected = coreError({ ...options, store: store() });
        const served = await adapter.serve({ limit: { ...options, store: store() } }).then(
          async (app) => {
            await app.close();
            return undefined;
          },
          (error: unknown) => error,
        );
        expect(served, name).toBeInstanceOf(TollgateError);
        expect((served as TollgateError).code).toBe(ErrorCodes.UNKNOWN_OPTION);
        expect((served as TollgateError).message).toBe(expected.message);
        expect((served as TollgateError).message).toContain(equivalent);
      }
    },
  },
];

/** `tollgate_ratelimit_decisions_total{limiter, source="store"}` so far, by outcome. */
async function decisionCounts(limiter: string): Promise<Record<'allowed' | 'limited' | 'shadow_limited', number>> {
  // The family exists once the first limiter does: before, nothing has been counted.
  const family = 'tollgate_ratelimit_decisions_total';
  const text = register.getSingleMetric(family) === undefined ? '' : await register.getSingleMetricAsString(family);
  const count = (outcome: string) => {
    const line = text
      .split('\n')
      .find((l) =>
        l.startsWith(`tollgate_ratelimit_decisions_total{limiter="${limiter}",outcome="${outcome}",source="store"} `),
      );
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };
  return { allowed: count('allowed'), limited: count('limited'), shadow_limited: count('shadow_limited') };
}

/** The error the core itself throws for these options: every adapter must surface exactly it. */
function coreError(options: AnyOptions): TollgateError {
  try {
    new HttpRateLimiter(options as never, { ip: () => undefined, header: () => undefined });
  } catch (error) {
    if (error instanceof TollgateError) return error;
    throw error;
  }
  throw new TollgateError(
    ErrorCodes.INVALID_OPTION,
    `expected these options to be refused: ${JSON.stringify(options)}`,
  );
}

/** What an outage scenario gets: a store on a Redis of its own, and a way to kill that Redis. */
export interface OutageContext {
  serve(spec: AppSpec): Promise<Served>;
  store(): Store;
  killRedis(): Promise<void>;
}

export interface OutageScenario {
  name: string;
  run(ctx: OutageContext): Promise<void>;
}

const silent = { info() {}, warn() {}, error() {} };

/** `failMode` when Redis dies mid-run, the same in every framework. */
export const outageScenarios: OutageScenario[] = [
  {
    name: "failMode 'local' keeps limiting in-process with the same policy",
    async run({ serve, store, killRedis }) {
      const app = await serve({
        limit: { max: 3, window: '1h', failMode: 'local', timeoutMs: 200, logger: silent, store: store() },
      });
      expect((await get(app)).status).toBe(200);
      await killRedis();
      expect(statuses(await times(4, app))).toEqual([200, 200, 200, 429]);
    },
  },
  {
    name: "failMode 'open' lets every request through, without quota headers",
    async run({ serve, store, killRedis }) {
      const app = await serve({
        limit: { max: 1, window: '1h', failMode: 'open', timeoutMs: 200, logger: silent, store: store() },
      });
      expect((await get(app)).status).toBe(200);
      await killRedis();
      const replies = await times(3, app);
      expect(statuses(replies)).toEqual([200, 200, 200]);
      expect(replies[0]?.headers.get('ratelimit')).toBeNull();
    },
  },
  {
    name: "failMode 'closed' refuses with 503, Retry-After and problem+json",
    async run({ serve, store, killRedis }) {
      const app = await serve({
        limit: { max: 5, window: '1h', failMode: 'closed', timeoutMs: 200, logger: silent, store: store() },
      });
      expect((await get(app)).status).toBe(200);
      await killRedis();
      const reply = await get(app);
      expect(reply.status).toBe(503);
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(reply.body).status).toBe(503);
      expect(app.hits()).toBe(1);
    },
  },
  {
    name: "mode 'shadow' never refuses, not even when failMode 'closed' would answer 503",
    async run({ serve, store, killRedis }) {
      const app = await serve({
        limit: {
          max: 5,
          window: '1h',
          name: 'shadow-outage',
          mode: 'shadow',
          failMode: 'closed',
          timeoutMs: 200,
          logger: silent,
          store: store(),
        },
      });
      expect((await get(app)).status).toBe(200);
      await killRedis();
      const reply = await get(app);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('retry-after')).toBeNull();
      expect(app.hits()).toBe(2);
    },
  },
];
