import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, InvalidOptionError } from '../errors.js';
import type { Logger } from '../log.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { PolicyOptions } from './policy.js';
import type { QuotaSource } from './quota-source.js';
import { RateLimiter } from './rate-limiter.js';

const stores: MemoryStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function clockStore() {
  const clock = { now: 1_000_000 };
  const store = new MemoryStore({ now: () => clock.now });
  stores.push(store);
  return { clock, store };
}

interface Plan {
  plan: 'free' | 'premium';
}

const silent: Logger & { lines: string[] } = {
  lines: [],
  info() {},
  warn(_fields: object, message: string) {
    silent.lines.push(message);
  },
  error() {},
};

async function admitted<R>(limiter: RateLimiter<R>, key: string, request: R, n: number): Promise<number> {
  let count = 0;
  for (let i = 0; i < n; i++) if ((await limiter.consume(key, 1, request)).allowed) count += 1;
  return count;
}

describe('limits per plan: max, burst, window and policies as functions of the request', () => {
  it('premium users get 10×: max as a sync function', async () => {
    const { store } = clockStore();
    const limiter = new RateLimiter<Plan>({
      name: 'plans',
      max: (req) => (req.plan === 'premium' ? 100 : 10),
      window: '1h',
      store,
    });
    expect(limiter.perRequest).toBe(true);
    expect(await admitted(limiter, 'free-user', { plan: 'free' }, 30)).toBe(10);
    expect(await admitted(limiter, 'premium-user', { plan: 'premium' }, 130)).toBe(100);
    const d = await limiter.consume('premium-user', 1, { plan: 'premium' });
    expect(d.limit).toBe(100);
    expect(d.policies[0]?.policy.label).toBe('100-per-1h');
  });

  it('async functions, burst and window too, and policies as a function', async () => {
    const { store } = clockStore();
    const limiter = new RateLimiter<Plan>({
      name: 'async-plans',
      max: async (req) => (req.plan === 'premium' ? 20 : 2),
      burst: (req) => (req.plan === 'premium' ? 40 : undefined),
      window: async () => '1m' as const,
      store,
    });
    expect(await admitted(limiter, 'a', { plan: 'free' }, 5)).toBe(2);
    expect(await admitted(limiter, 'b', { plan: 'premium' }, 50)).toBe(40);
    const multi = new RateLimiter<Plan>({
      name: 'multi-plans',
      policies: (req) =>
        req.plan === 'premium'
          ? [
              { max: 5, window: '1s' },
              { max: 50, window: '1h' },
            ]
          : [{ max: 1, window: '1s' }],
      store,
    });
    expect(await admitted(multi, 'c', { plan: 'premium' }, 9)).toBe(5);
    expect((await multi.consume('c', 1, { plan: 'premium' })).policies).toHaveLength(2);
    expect(await admitted(multi, 'd', { plan: 'free' }, 3)).toBe(1);
  });

  it('a limiter whose limits vary needs a name; a function returning a bad value throws a coded error', async () => {
    expect(() => new RateLimiter<Plan>({ max: () => 5, window: '1m' })).toThrow(InvalidOptionError);
    const limiter = new RateLimiter<Plan>({ name: 'bad', max: () => -1, window: '1m' });
    await expect(limiter.consume('x', 1, { plan: 'free' })).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION });
  });

  it('upgrade mid-window: the client keeps its balance (no reset), and refills at the new rate to the new capacity', async () => {
    const { clock, store } = clockStore();
    const plan: Plan = { plan: 'free' };
    const limiter = new RateLimiter<Plan>({
      name: 'upgrade',
      max: (r) => (r.plan === 'premium' ? 100 : 10),
      window: '10s',
      store,
    });
    expect(await admitted(limiter, 'u', plan, 10)).toBe(10); // drained at 10 per 10 s
    plan.plan = 'premium';
    // Upgraded with an empty bucket: nothing at once (no fresh allowance from the upgrade) …
    expect((await limiter.consume('u', 1, plan)).allowed).toBe(false);
    // … but the refill is the premium one: 10 per second, where free refilled 1.
    clock.now += 1000;
    expect(await admitted(limiter, 'u', plan, 20)).toBe(10);
    // Quiet for a whole window: full at the new capacity.
    clock.now += 10_000;
    expect(await admitted(limiter, 'u', plan, 200)).toBe(100);
  });

  it('downgrade: the balance is capped at the new capacity, so switching plans never hands out a fresh bucket', async () => {
    const { clock, store } = clockStore();
    const plan: Plan = { plan: 'premium' };
    const limiter = new RateLimiter<Plan>({
      name: 'downgrade',
      max: (r) => (r.plan === 'premium' ? 100 : 10),
      window: '10s',
      store,
    });
    expect(await admitted(limiter, 'd', plan, 5)).toBe(5); // 95 left of 100
    plan.plan = 'free';
    expect((await limiter.peek('d', plan)).remaining).toBe(10); // capped at 10
    expect(await admitted(limiter, 'd', plan, 20)).toBe(10);
    // Flipping back and forth gives nothing either: the bucket is one, keyed by client.
    plan.plan = 'premium';
    expect((await limiter.consume('d', 1, plan)).allowed).toBe(false);
    plan.plan = 'free';
    expect((await limiter.consume('d', 1, plan)).allowed).toBe(false);
    clock.now += 1000;
    expect(await admitted(limiter, 'd', plan, 5)).toBe(1);
  });
});

describe('quotas changed at runtime', () => {
  class Table implements QuotaSource {
    readonly rows = new Map<string, PolicyOptions[]>();
    reads = 0;
    fail = false;
    async read(tenant: string) {
      this.reads += 1;
      if (this.fail) throw new Error('source down');
      return this.rows.get(tenant);
    }
  }

  it('a tenant quota replaces the configured limit, re-read after cacheMs; a failing source keeps the last known one', async () => {
    const source = new Table();
    const limiter = new RateLimiter<{ org: string }>({
      name: 'quota-unit',
      max: 2,
      window: '1h',
      logger: silent,
      quotas: { source, cacheMs: 50, tenant: (req) => req.org },
    });
    const acme = { org: 'acme' };
    expect(await admitted(limiter, 'k1', acme, 5)).toBe(2);
    source.rows.set('acme', [{ max: 10, window: '1h' }]);
    // Cached: still the configured limit until cacheMs has passed.
    expect((await limiter.consume('k2', 1, acme)).limit).toBe(2);
    await new Promise((r) => setTimeout(r, 80));
    await limiter.consume('k2', 1, acme); // the stale value answers; one read refreshes it
    await new Promise((r) => setTimeout(r, 10));
    expect((await limiter.consume('k2', 1, acme)).limit).toBe(10);
    const reads = source.reads;
    source.fail = true;
    await new Promise((r) => setTimeout(r, 80));
    await limiter.consume('k2', 1, acme);
    await new Promise((r) => setTimeout(r, 10));
    expect((await limiter.consume('k2', 1, acme)).limit).toBe(10);
    expect(source.reads).toBeGreaterThan(reads);
    expect(silent.lines.some((l) => l.includes('quota could not be read'))).toBe(true);
  });

  it('a quota that is not a valid policy is logged and the configured limits apply', async () => {
    const source = new Table();
    source.rows.set('k', [{ max: -3, window: '1h' }]);
    const limiter = new RateLimiter({
      name: 'quota-invalid',
      max: 4,
      window: '1h',
      logger: silent,
      quotas: { source },
    });
    expect((await limiter.consume('k')).limit).toBe(4);
    expect(silent.lines.some((l) => l.includes('not a valid policy'))).toBe(true);
  });

  it('a read that hangs is bounded by timeoutMs: the configured limits answer', async () => {
    const limiter = new RateLimiter({
      name: 'quota-hang',
      max: 3,
      window: '1h',
      timeoutMs: 30,
      logger: silent,
      quotas: { source: { read: () => new Promise<undefined>(() => {}) } },
    });
    // Without the bound this would never settle (and the test would time out).
    expect((await limiter.consume('k')).limit).toBe(3);
  });
});

describe('quotas: the first read of a tenant', () => {
  it('calls that arrive while it is under way wait for it, and the source is read once', async () => {
    let reads = 0;
    let release: (value: PolicyOptions[]) => void = () => {};
    const source: QuotaSource = {
      read: () => {
        reads += 1;
        return new Promise<PolicyOptions[]>((resolve) => {
          release = resolve;
        });
      },
    };
    const limiter = new RateLimiter({ name: 'quota-first', max: 1, window: '1h', quotas: { source } });
    const calls = [limiter.consume('acme'), limiter.consume('acme'), limiter.consume('acme')];
    await new Promise((r) => setTimeout(r, 5));
    release([{ max: 100, window: '1h' }]);
    const decisions = await Promise.all(calls);
    expect(decisions.map((d) => [d.allowed, d.limit])).toEqual([
      [true, 100],
      [true, 100],
      [true, 100],
    ]);
    expect(reads).toBe(1);
  });
});

describe('peekWith: a bucket read under the limits of an earlier decision', () => {
  it('needs no request, for limits that are functions of one', async () => {
    const limiter = new RateLimiter<Plan>({
      name: 'peek-with',
      max: (r) => (r.plan === 'premium' ? 10 : 2),
      window: '1h',
    });
    const d = await limiter.consume('k', 1, { plan: 'premium' });
    const later = await limiter.peekWith('k', d);
    expect([later.limit, later.remaining]).toEqual([10, 9]);
  });
});
