import { expect } from 'vitest';
import type { Served } from './adapters.js';
import type { Scenario } from './scenarios.js';

/**
 * Issue 16 items 2, 4, 6 and 7 through every adapter and store: limits per request, refunds once
 * the status is known, slow-down and blocking, all decided in core.
 */

/** Adapters that tell core a response's status (`RequestReader.whenDone`): refunds need it. */
const REPORT_STATUS = new Set(['express', 'koa', 'fastify', 'hono', 'fetch', 'nestjs', 'nestjs (platform-fastify)']);

interface Reply {
  status: number;
  headers: Headers;
}

async function get(served: Served, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(served.url, { headers });
  await res.arrayBuffer();
  return { status: res.status, headers: res.headers };
}

async function statuses(served: Served, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(served, headers)).status);
  return out;
}

/**
 * A request header, whatever the framework hands a limit function: a Node request or Koa
 * context (`headers` object), a Fetch `Request`, or a Hono context.
 */
// biome-ignore lint/suspicious/noExplicitAny: each framework's request has its own type.
function header(req: any, name: string): string | undefined {
  const headers = req?.headers ?? req?.req?.raw?.headers;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** Moves the scenario's store clock with real time while `body` runs (slow-down waits on real timers). */
async function ticking<T>(clock: { now: number }, body: () => Promise<T>): Promise<T> {
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    clock.now += Math.round(now - last);
    last = now;
  }, 2);
  try {
    return await body();
  } finally {
    clearInterval(timer);
  }
}

export const issue16Scenarios: Scenario[] = [
  {
    name: 'max as a function of the request: premium gets more; an upgrade keeps the drained bucket (no reset), refilling at the new rate',
    async run({ serve, store, clock }) {
      const app = await serve({
        limit: {
          name: 'plans',
          max: (req: unknown) => (header(req, 'x-plan') === 'premium' ? 10 : 2),
          window: '1m',
          store: store(),
        },
      });
      expect(await statuses(app, 3)).toEqual([200, 200, 429]);
      const upgraded = await get(app, { 'x-plan': 'premium' });
      expect(upgraded.status).toBe(429);
      expect(upgraded.headers.get('ratelimit-policy')).toBe('"plans";q=10;w=60');
      clock.now += 6000; // a premium token (10 a minute); a free one would take 30 s
      expect((await get(app, { 'x-plan': 'premium' })).status).toBe(200);
      expect((await get(app)).status).toBe(429);
    },
  },
  {
    name: 'skipSuccessfulRequests gives a successful request its tokens back; skipFailedRequests keeps them',
    async run({ serve, store, adapter }) {
      const options = { max: 2, window: '1h', skipSuccessfulRequests: true, store: store() };
      if (!REPORT_STATUS.has(adapter.name)) {
        await expect(serve({ limit: options })).rejects.toThrow(/cannot report response statuses/);
        return;
      }
      const lenient = await serve({ limit: options });
      expect(await statuses(lenient, 5)).toEqual([200, 200, 200, 200, 200]);
      const strict = await serve({
        limit: { name: 'failures', max: 2, window: '1h', skipFailedRequests: true, store: store() },
      });
      expect(await statuses(strict, 3)).toEqual([200, 200, 429]);
    },
  },
  {
    name: 'slowDown: a request beyond the bucket waits for its token (Server-Timing ratelimit-delay) instead of 429; one whose wait exceeds maxDelay is refused',
    async run({ serve, store, clock }) {
      const app = await serve({ limit: { max: 1, window: 100, slowDown: { maxDelay: '5s' }, store: store() } });
      const [first, second] = await ticking(clock, async () => [await get(app), await get(app)]);
      expect(first?.status).toBe(200);
      expect(first?.headers.get('server-timing')).toBeNull();
      expect(second?.status).toBe(200);
      const delay = Number(/ratelimit-delay;dur=(\d+)/.exec(second?.headers.get('server-timing') ?? '')?.[1]);
      expect(delay).toBeGreaterThan(0);
      const slow = await serve({
        limit: { name: 'slow', max: 1, window: '1h', slowDown: { maxDelay: '1s' }, store: store() },
      });
      expect(await statuses(slow, 2)).toEqual([200, 429]);
    },
  },
  {
    name: 'block: after 2 refusals within 10 s the client is refused for 1 h, though its bucket refills meanwhile',
    async run({ serve, store, clock }) {
      const app = await serve({
        limit: { max: 1, window: '1s', block: { after: 2, within: '10s', for: '1h' }, store: store() },
      });
      expect(await statuses(app, 2)).toEqual([200, 429]);
      const blocking = await get(app);
      expect(blocking.status).toBe(429);
      expect(Number(blocking.headers.get('retry-after'))).toBeGreaterThan(3500);
      clock.now += 5000; // five refills of the bucket alone
      const still = await get(app);
      expect(still.status).toBe(429);
      expect(Number(still.headers.get('retry-after'))).toBeGreaterThan(3500);
    },
  },
];
