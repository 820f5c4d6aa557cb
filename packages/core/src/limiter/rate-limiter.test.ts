import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCodes, InvalidOptionError, TollgateError } from '../errors.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { Store } from '../stores/store.js';
import { RateLimitExceededError, StoreUnavailableError } from './limit-errors.js';
import { RateLimiter, type RateLimiterOptions } from './rate-limiter.js';

const START = 1_700_000_000_000;
const stores: MemoryStore[] = [];

afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function fakeClockStore(maxKeys?: number) {
  const clock = { now: START };
  const store = new MemoryStore({ now: () => clock.now, ...(maxKeys === undefined ? {} : { maxKeys }) });
  stores.push(store);
  return { clock, store };
}

/** Builds a limiter from options the types would not allow, as JavaScript callers can. */
function build(options: unknown): RateLimiter {
  return new RateLimiter(options as RateLimiterOptions);
}

function optionError(options: unknown): InvalidOptionError {
  try {
    build(options);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error(`RateLimiter accepted ${JSON.stringify(options)}`);
}

async function rejection(promise: Promise<unknown>): Promise<TollgateError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TollgateError);
    return error as TollgateError;
  }
  throw new Error('expected the promise to reject');
}

/** A store that never answers, to show a call never reached (or never waited on) it. */
function silentStore() {
  const store = {
    consume: vi.fn(() => new Promise<never>(() => {})),
    peek: vi.fn(() => new Promise<never>(() => {})),
    reset: vi.fn(),
  };
  return store satisfies Store;
}

describe('RateLimiter: consume', () => {
  it('admits up to capacity, then refuses with an exact retryAfterMs', async () => {
    const { clock, store } = fakeClockStore();
    const limiter = new RateLimiter({ max: 3, window: '3s', store });
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await limiter.consume('user:1'));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(decisions.map((d) => d.remaining)).toEqual([2, 1, 0, 0]);
    expect(decisions[0]).toMatchObject({ limit: 3, retryAfterMs: 0, resetMs: 1000, source: 'store' });
    expect(decisions[2]).toMatchObject({ limit: 3, retryAfterMs: 0, resetMs: 3000 });
    expect(decisions[3]).toMatchObject({ allowed: false, limit: 3, remaining: 0, resetMs: 3000, retryAfterMs: 1000 });
    clock.now += 999;
    expect((await limiter.consume('user:1')).allowed).toBe(false);
    clock.now += 1;
    expect(await limiter.consume('user:1')).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('refills continuously at max / window up to burst', async () => {
    const { clock, store } = fakeClockStore();
    const limiter = new RateLimiter({ max: 10, window: '1s', burst: 20, store });
    expect(limiter.policies[0]).toMatchObject({ max: 10, windowMs: 1000, capacity: 20 });
    const first = await limiter.consume('k', 20);
    expect(first).toMatchObject({ allowed: true, remaining: 0, limit: 20, resetMs: 2000 });
    clock.now += 250;
    expect((await limiter.peek('k')).remaining).toBe(2);
    clock.now += 10_000;
    expect((await limiter.peek('k')).remaining).toBe(20);
  });

  it('keeps keys apart', async () => {
    const { store } = fakeClockStore();
    const limiter = new RateLimiter({ max: 1, window: '1m', store });
    expect((await limiter.consume('a')).allowed).toBe(true);
    expect((await limiter.consume('a')).allowed).toBe(false);
    expect((await limiter.consume('b')).allowed).toBe(true);
  });

  it('takes cost tokens, and a cost of 0 is always admitted without taking any', async () => {
    const { store } = fakeClockStore();
    const limiter = new RateLimiter({ max: 10, window: '1m', store });
    expect(await limiter.consume('k', 7)).toMatchObject({ allowed: true, remaining: 3 });
    expect(await limiter.consume('k', 4)).toMatchObject({ allowed: false, remaining: 3 });
    expect(await limiter.consume('k', 0)).toMatchObject({ allowed: true, remaining: 3 });
    expect(await limiter.consume('k', 3)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await limiter.consume('k', 0)).toMatchObject({ allowed: true, remaining: 0, retryAfterMs: 0 });
  });

  it('accepts a fractional cost', async () => {
    const { store } = fakeClockStore();
    const limiter = new RateLimiter({ max: 2, window: '1m', store });
    expect(await limiter.consume('k', 0.5)).toMatchObject({ allowed: true, remaining: 1 });
    expect(await limiter.consume('k', 1.5)).toMatchObject({ allowed: true, remaining: 0 });
    expect((await limiter.consume('k', 0.5)).allowed).toBe(false);
  });

  it('decides several policies all-or-nothing and reports the binding one', async () => {
    const { clock, store } = fakeClockStore();
    const limiter = new RateLimiter({
      policies: [
        { max: 2, window: '1s' },
        { max: 3, window: '1h' },
      ],
      store,
    });
    expect((await limiter.consume('k')).allowed).toBe(true);
    expect((await limiter.consume('k')).allowed).toBe(true);
    const perSecond = await limiter.consume('k');
    expect(perSecond.allowed).toBe(false);
    expect(perSecond.policies.map((s) => s.allowed)).toEqual([false, true]);
    expect(perSecond.retryAfterMs).toBe(500);
    expect(perSecond.limit).toBe(2);
    clock.now += 1000;
    expect((await limiter.consume('k')).allowed).toBe(true);
    clock.now += 1000;
    const perHour = await limiter.consume('k');
    expect(perHour.allowed).toBe(false);
    expect(perHour.policies.map((s) => s.allowed)).toEqual([true, false]);
    expect(perHour).toMatchObject({ limit: 3, remaining: 0, retryAfterMs: 1_198_000 });
    // The per-second bucket was not charged for the refused call.
    expect((await limiter.peek('k')).policies[0]?.remaining).toBe(2);
  });

  it('rejects an empty or non-string key', async () => {
    const limiter = new RateLimiter({ max: 1, window: '1s', store: fakeClockStore().store });
    expect((await rejection(limiter.consume(''))).code).toBe(ErrorCodes.INVALID_KEY);
    expect((await rejection(limiter.consume(42 as unknown as string))).code).toBe(ErrorCodes.INVALID_KEY);
  });

  it('never passes a hostile key to the store raw', async () => {
    const store = new MemoryStore();
    stores.push(store);
    const limiter = new RateLimiter({ max: 1, window: '1s', store });
    await limiter.consume('{slot} with spaces\r\n');
    const keys = [...store.keys()];
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toMatch(/[{}\s]/);
    expect(keys[0]?.startsWith(limiter.keyFor('x').slice(0, -1))).toBe(true);
    expect(limiter.keyFor('user:42')).toMatch(/user:42$/);
  });
});

describe('RateLimiter: store scopes', () => {
  it("keeps a MemoryStore's keys under the limiter's prefix, as full keys would be", async () => {
    const store = new MemoryStore();
    stores.push(store);
    const a = new RateLimiter({ max: 1, window: '1m', store, name: 'a' });
    const b = new RateLimiter({ max: 1, window: '1m', store, name: 'b' });
    expect((await a.consume('client')).allowed).toBe(true);
    expect((await a.consume('client')).allowed).toBe(false);
    expect((await b.consume('client')).allowed).toBe(true);
    expect([...store.keys()].sort()).toEqual([a.keyFor('client'), b.keyFor('client')]);
    // The same bucket through the store's own full-key API.
    expect(store.peek(a.keyFor('client'), a.policies).tokens[0]).toBeLessThan(1);
    await a.reset('client');
    expect([...store.keys()]).toEqual([b.keyFor('client')]);
  });

  it('gives the full key to a store without scopes', async () => {
    const inner = new MemoryStore();
    stores.push(inner);
    const seen: string[] = [];
    const store: Store = {
      consume: (key, buckets, costs) => {
        seen.push(key);
        return inner.consume(key, buckets, costs);
      },
      peek: (key, buckets) => inner.peek(key, buckets),
      reset: (key) => inner.reset(key),
    };
    const limiter = new RateLimiter({ max: 1, window: '1m', store });
    await limiter.consume('client');
    expect(seen).toEqual([limiter.keyFor('client')]);
  });
});

describe('RateLimiter: decide', () => {
  it('answers synchronously from a synchronous store, as consume does later', async () => {
    const { store } = fakeClockStore();
    const limiter = new RateLimiter({ max: 2, window: '1m', store });
    const first = limiter.decide('a');
    expect(first).not.toBeInstanceOf(Promise);
    expect(first).toMatchObject({ allowed: true, remaining: 1, source: 'store' });
    expect(limiter.decide('a')).toMatchObject({ allowed: true, remaining: 0 });
    expect(limiter.decide('a')).toMatchObject({ allowed: false, remaining: 0 });
    await expect(limiter.consume('a')).resolves.toMatchObject({ allowed: false });
  });

  it('answers with a promise when the store does', async () => {
    const inner = new MemoryStore();
    stores.push(inner);
    const store: Store = {
      consume: async (key, buckets, costs) => inner.consume(key, buckets, costs),
      peek: async (key, buckets) => inner.peek(key, buckets),
      reset: async (key) => inner.reset(key),
    };
    const limiter = new RateLimiter({ max: 1, window: '1m', store });
    const pending = limiter.decide('a');
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).resolves.toMatchObject({ allowed: true, remaining: 0 });
    await expect(limiter.decide('a')).resolves.toMatchObject({ allowed: false });
  });

  it('throws at once for an invalid key or cost', () => {
    const limiter = new RateLimiter({ max: 1, window: '1m' });
    expect(() => limiter.decide('')).toThrow(TollgateError);
    expect(() => limiter.decide('a', -1)).toThrow(TollgateError);
  });
});

describe('RateLimiter: cost validation', () => {
  it('rejects a cost greater than capacity at once, without calling (or waiting for) the store', async () => {
    const store = silentStore();
    const limiter = new RateLimiter({ max: 5, window: '1m', store, timeoutMs: 60_000 });
    const error = await rejection(limiter.consume('k', 6));
    expect(error.code).toBe(ErrorCodes.INVALID_COST);
    expect(error.code).toBe('TOLLGATE_INVALID_COST');
    expect(error.message).toContain('6');
    expect(error.message).toContain('5');
    expect((await rejection(limiter.check('k', 6))).code).toBe(ErrorCodes.INVALID_COST);
    expect(store.consume).not.toHaveBeenCalled();
  });

  it('measures cost against the smallest capacity of several policies', async () => {
    const store = silentStore();
    const limiter = new RateLimiter({
      policies: [
        { max: 100, window: '1h' },
        { max: 10, window: '1s', burst: 4 },
      ],
      store,
    });
    expect((await rejection(limiter.consume('k', 5))).code).toBe(ErrorCodes.INVALID_COST);
    expect(store.consume).not.toHaveBeenCalled();
  });

  it('allows a cost equal to capacity', async () => {
    const limiter = new RateLimiter({ max: 5, window: '1m', store: fakeClockStore().store });
    expect(await limiter.consume('k', 5)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it.each([-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '2', null])(
    'rejects cost %s',
    async (cost) => {
      const store = silentStore();
      const limiter = new RateLimiter({ max: 5, window: '1m', store });
      const error = await rejection(limiter.consume('k', cost as number));
      expect(error.code).toBe(ErrorCodes.INVALID_COST);
      expect(error.message).toContain(String(cost));
      expect(store.consume).not.toHaveBeenCalled();
    },
  );
});

describe('RateLimiter: check', () => {
  it('returns the decision when allowed', async () => {
    const limiter = new RateLimiter({ max: 2, window: '1m', store: fakeClockStore().store });
    expect(await limiter.check('k')).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('throws RateLimitExceededError with whole-second retryAfter and the decision', async () => {
    const limiter = new RateLimiter({ max: 1, window: '90s', store: fakeClockStore().store });
    await limiter.check('k');
    const error = await rejection(limiter.check('k'));
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect(error).toBeInstanceOf(Error);
    const exceeded = error as RateLimitExceededError;
    expect(exceeded.code).toBe(ErrorCodes.RATE_LIMITED);
    expect(exceeded.retryAfter).toBe(90);
    expect(exceeded.decision).toMatchObject({ allowed: false, retryAfterMs: 90_000, remaining: 0, limit: 1 });
  });

  it('rounds retryAfter up, to at least 1 second', async () => {
    const { clock, store } = fakeClockStore();
    const limiter = new RateLimiter({ max: 10, window: '1s', store });
    await limiter.consume('k', 10);
    let exceeded = (await rejection(limiter.check('k'))) as RateLimitExceededError;
    expect(exceeded.decision.retryAfterMs).toBe(100);
    expect(exceeded.retryAfter).toBe(1);

    const slow = new RateLimiter({ max: 2, window: 3001, store });
    await slow.consume('k', 2);
    clock.now += 1;
    exceeded = (await rejection(slow.check('k'))) as RateLimitExceededError;
    expect(exceeded.decision.retryAfterMs).toBe(1500);
    expect(exceeded.retryAfter).toBe(2);
    expect(Number.isInteger(exceeded.retryAfter)).toBe(true);
  });

  it('consumes like consume() when it passes, and nothing when it throws', async () => {
    const limiter = new RateLimiter({ max: 3, window: '1m', store: fakeClockStore().store });
    await limiter.check('k', 2);
    await rejection(limiter.check('k', 2));
    expect((await limiter.peek('k')).remaining).toBe(1);
  });
});

describe('RateLimiter: peek', () => {
  it('reports a full bucket for an unknown key', async () => {
    const limiter = new RateLimiter({ max: 4, window: '1m', store: fakeClockStore().store });
    expect(await limiter.peek('new')).toMatchObject({
      allowed: true,
      limit: 4,
      remaining: 4,
      resetMs: 0,
      retryAfterMs: 0,
      source: 'store',
    });
  });

  it('does not consume', async () => {
    const limiter = new RateLimiter({ max: 2, window: '1m', store: fakeClockStore().store });
    await limiter.consume('k');
    for (let i = 0; i < 5; i++) expect((await limiter.peek('k')).remaining).toBe(1);
    expect((await limiter.consume('k')).allowed).toBe(true);
  });

  it('on an exhausted bucket, says when one token will be available', async () => {
    // Decision.retryAfterMs: "Milliseconds until `cost` tokens are available" (cost 1 for peek),
    // and "0 when allowed". peek() passes unit costs to buildDecision but also allowed=true,
    // so an empty bucket reads as allowed with retryAfterMs 0.
    const limiter = new RateLimiter({ max: 1, window: '1m', store: fakeClockStore().store });
    await limiter.consume('k');
    const d = await limiter.peek('k');
    expect(d.remaining).toBe(0);
    expect(d.resetMs).toBe(60_000);
    expect(d.retryAfterMs).toBe(60_000);
    expect(d.allowed).toBe(false);
  });
});

describe('RateLimiter: reset', () => {
  it('refills every bucket of the key, and only that key', async () => {
    const limiter = new RateLimiter({
      policies: [
        { max: 1, window: '1s' },
        { max: 5, window: '1h' },
      ],
      store: fakeClockStore().store,
    });
    await limiter.consume('a');
    await limiter.consume('b');
    expect((await limiter.consume('a')).allowed).toBe(false);
    await limiter.reset('a');
    const peeked = await limiter.peek('a');
    expect(peeked.policies.map((s) => s.remaining)).toEqual([1, 5]);
    expect((await limiter.consume('a')).allowed).toBe(true);
    expect((await limiter.peek('b')).policies.map((s) => s.remaining)).toEqual([0, 4]);
  });

  it('throws a coded error naming the limiter, with the store error as its cause', async () => {
    const failure = new Error('reset failed');
    const store: Store = {
      consume: () => ({ allowed: true, tokens: [1] }),
      peek: () => ({ allowed: true, tokens: [1] }),
      reset: () => Promise.reject(failure),
    };
    const logger = { info() {}, warn() {}, error() {} };
    const limiter = new RateLimiter({ max: 1, window: '1s', store, name: 'admin', logger });
    await expect(limiter.reset('k')).rejects.toMatchObject({
      code: ErrorCodes.STORE_UNAVAILABLE,
      message: expect.stringContaining('limiter "admin"'),
      cause: failure,
    });
  });
});

describe('RateLimiter: options', () => {
  it('parses the documented options into a frozen configuration with defaults', () => {
    const limiter = new RateLimiter({ max: 100, window: '1m' });
    expect(limiter.policies).toHaveLength(1);
    expect(Object.isFrozen(limiter.policies)).toBe(true);
    expect(Object.isFrozen(limiter.policies[0])).toBe(true);
    expect(limiter.policies[0]).toMatchObject({ max: 100, windowMs: 60_000, capacity: 100, label: '100-per-1m' });
    expect(limiter.failMode).toBe('local');
    expect(limiter.timeoutMs).toBe(500);
    expect(limiter.name).toBeUndefined();
    const named = new RateLimiter({
      max: 5,
      window: 1500,
      burst: 8,
      name: 'api.v1_writes-x',
      prefix: 'app',
      failMode: 'closed',
      timeoutMs: 20,
      logger: { info() {}, warn() {}, error() {} },
    });
    expect(named).toMatchObject({ name: 'api.v1_writes-x', failMode: 'closed', timeoutMs: 20 });
    expect(named.policies[0]).toMatchObject({ capacity: 8, windowMs: 1500, label: '5-per-1500ms-burst-8' });
    expect(named.keyFor('u')).toMatch(/^app:/);
  });

  it('rejects an unknown option with its own code, naming it and echoing the value', () => {
    const error = optionError({ max: 10, window: '1m', windw: '2m' });
    expect(error.code).toBe(ErrorCodes.UNKNOWN_OPTION);
    expect(error.code).toBe('TOLLGATE_UNKNOWN_OPTION');
    expect(error.option).toBe('windw');
    expect(error.message).toContain('`windw`');
    expect(error.message).toContain('"2m"');
  });

  it('rejects an unknown option inside a policy', () => {
    const error = optionError({ policies: [{ max: 1, window: '1s', brust: 3 }] });
    expect(error.code).toBe(ErrorCodes.UNKNOWN_OPTION);
    expect(error.message).toContain('brust');
    expect(error.message).toContain('3');
  });

  it.each([
    [0, '0'],
    [-1, '-1'],
    [1.5, '1.5'],
    [Number.NaN, 'NaN'],
    ['10', '"10"'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [undefined, 'undefined'],
    [null, 'null'],
  ])('rejects max %j', (max, shown) => {
    const error = optionError({ max, window: '1m' });
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.option).toBe('max');
    expect(error.message).toContain('`max`');
    expect(error.message).toContain(shown);
  });

  it.each([
    ['1 minute', '"1 minute"'],
    ['-5s', '"-5s"'],
    ['5', '"5"'],
    ['1y', '"1y"'],
    ['', '""'],
    [0, '0'],
    [1.5, '1.5'],
    [Number.NaN, 'NaN'],
    [undefined, 'undefined'],
    [null, 'null'],
  ])('rejects window %j', (window, shown) => {
    const error = optionError({ max: 10, window });
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.option).toBe('window');
    expect(error.message).toContain('`window`');
    expect(error.message).toContain(shown);
  });

  it.each([
    [0, '0'],
    [-3, '-3'],
    [2.5, '2.5'],
    ['20', '"20"'],
  ])('rejects burst %j', (burst, shown) => {
    const error = optionError({ max: 10, window: '1m', burst });
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.option).toBe('burst');
    expect(error.message).toContain('`burst`');
    expect(error.message).toContain(shown);
  });

  it('names the failing field of a policy in a list', () => {
    const error = optionError({
      policies: [
        { max: 1, window: '1s' },
        { max: 0, window: '1h' },
      ],
    });
    expect(error.option).toBe('policies[1].max');
    expect(error.message).toContain('`policies[1].max`');
    expect(error.message).toContain('is 0');
    expect(optionError({ policies: [{ max: 1, window: 'soon' }] }).option).toBe('policies[0].window');
    expect(optionError({ policies: [{ max: 1, window: '1s', burst: 0 }] }).option).toBe('policies[0].burst');
    expect(optionError({ policies: [null] }).code).toBe(ErrorCodes.INVALID_OPTION);
  });

  it('accepts 1 to 32 policies', () => {
    const policies = (n: number) => Array.from({ length: n }, (_, i) => ({ max: i + 1, window: '1h' as const }));
    expect(new RateLimiter({ policies: policies(32) }).policies).toHaveLength(32);
    const error = optionError({ policies: policies(33) });
    expect(error.option).toBe('policies');
    expect(error.message).toMatch(/1 to 32/);
    expect(optionError({ policies: [] }).option).toBe('policies');
  });

  it('rejects both `policies` and `max`', () => {
    const error = optionError({ max: 10, window: '1m', policies: [{ max: 1, window: '1s' }] });
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.option).toBe('policies');
    expect(error.message).toContain('`policies`');
    expect(error.message).toContain('an array of 1');
    expect(error.message).toContain('max');
    expect(optionError({ window: '1m', policies: [{ max: 1, window: '1s' }] }).option).toBe('policies');
    expect(optionError({ burst: 3, policies: [{ max: 1, window: '1s' }] }).option).toBe('policies');
  });

  it.each([
    [[], 'an array of 0'],
    ['10/s', '"10/s"'],
    [{ max: 1, window: '1s' }, 'an object'],
    [null, 'null'],
  ])('rejects policies %j', (policies, shown) => {
    const error = optionError({ policies });
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.option).toBe('policies');
    expect(error.message).toContain(shown);
  });

  it('rejects duplicate policies, including ones written differently', () => {
    let error = optionError({
      policies: [
        { max: 10, window: '1s' },
        { max: 10, window: '1s' },
      ],
    });
    expect(error.option).toBe('policies');
    expect(error.message).toContain('`policies`');
    expect(error.message).toContain('an array of 2');
    error = optionError({
      policies: [
        { max: 10, window: '1s', burst: 10 },
        { max: 10, window: 1000 },
      ],
    });
    expect(error.option).toBe('policies');
    // Same rate, different burst: distinct policies.
    expect(
      () =>
        new RateLimiter({
          policies: [
            { max: 10, window: '1s' },
            { max: 10, window: '1s', burst: 20 },
          ],
        }),
    ).not.toThrow();
  });

  it.each([
    ['fast', '"fast"'],
    ['OPEN', '"OPEN"'],
    [true, 'true'],
    ['', '""'],
  ])('rejects failMode %j', (failMode, shown) => {
    const error = optionError({ max: 1, window: '1s', failMode });
    expect(error.option).toBe('failMode');
    expect(error.message).toContain('`failMode`');
    expect(error.message).toContain(shown);
    expect(error.message).toContain("'local'");
  });

  it.each([
    [0, '0'],
    [-10, '-10'],
    [1.5, '1.5'],
    ['50', '"50"'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
  ])('rejects timeoutMs %j', (timeoutMs, shown) => {
    const error = optionError({ max: 1, window: '1s', timeoutMs });
    expect(error.option).toBe('timeoutMs');
    expect(error.message).toContain('`timeoutMs`');
    expect(error.message).toContain(shown);
  });

  it.each([
    ['timeoutMs', { timeoutMs: 2 ** 31 }],
    ['circuit.minOpenMs', { circuit: { minOpenMs: 2 ** 31 } }],
    ['circuit.maxOpenMs', { circuit: { maxOpenMs: 2 ** 31 } }],
  ])('refuses %s past the longest timer Node honours (2^31-1 ms), naming the accepted range', (option, extra) => {
    // Node clamps a longer timer to 1 ms: timeoutMs 2^31 made calls fall back at once.
    const error = optionError({ max: 1, window: '1s', ...extra });
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.option).toBe(option);
    expect(error.message).toContain(`\`${option}\``);
    expect(error.message).toContain('2147483648');
    expect(error.message).toContain('from 1 to 2147483647');
  });

  it('accepts timeoutMs and circuit intervals of exactly 2^31-1 ms', () => {
    const limiter = build({ max: 1, window: '1s', timeoutMs: 2 ** 31 - 1, circuit: { maxOpenMs: 2 ** 31 - 1 } });
    expect(limiter.timeoutMs).toBe(2 ** 31 - 1);
  });

  it.each([
    ['my limiter', '"my limiter"'],
    ['{api}', '"{api}"'],
    ['a{b}c', '"a{b}c"'],
    ['', '""'],
    ['x'.repeat(65), `"${'x'.repeat(40)}…"`],
    ['api:v1', '"api:v1"'],
    [42, '42'],
  ])('rejects name %j', (name, shown) => {
    const error = optionError({ max: 1, window: '1s', name });
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.option).toBe('name');
    expect(error.message).toContain('`name`');
    expect(error.message).toContain(shown);
  });

  it.each([
    ['with space', '"with space"'],
    ['{tag}', '"{tag}"'],
  ])('rejects prefix %j', (prefix, shown) => {
    const error = optionError({ max: 1, window: '1s', prefix });
    expect(error.option).toBe('prefix');
    expect(error.message).toContain(shown);
  });

  it.each([
    [{}, 'an object'],
    [{ consume() {}, peek() {} }, 'an object'],
    ['redis://localhost', '"redis://localhost"'],
    [null, 'null'],
    [() => {}, 'a function'],
  ])('rejects store %#', (store, shown) => {
    const error = optionError({ max: 1, window: '1s', store });
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.option).toBe('store');
    expect(error.message).toContain('`store`');
    expect(error.message).toContain(shown);
  });

  it('accepts any object implementing Store', () => {
    const store: Store = {
      consume: () => ({ allowed: true, tokens: [] }),
      peek: () => ({ allowed: true, tokens: [] }),
      reset() {},
    };
    expect(() => new RateLimiter({ max: 1, window: '1s', store })).not.toThrow();
  });

  it.each([{}, { info() {}, warn() {} }, 'console'])('rejects logger %j', (logger) => {
    const error = optionError({ max: 1, window: '1s', logger });
    expect(error.option).toBe('logger');
    expect(error.message).toContain('`logger`');
  });

  it.each([null, 'max=10', [1], 7])('rejects options that are not an object: %j', (options) => {
    const error = optionError(options);
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.option).toBe('options');
  });
});

describe('RateLimiter: key sharing', () => {
  it('keys that differ only in a lone surrogate get separate buckets', async () => {
    const { store } = fakeClockStore();
    const limiter = new RateLimiter({ max: 1, window: '1m', store });
    expect(limiter.keyFor('user:\ud800')).not.toBe(limiter.keyFor('user:\udfff'));
    expect((await limiter.consume('user:\ud800')).allowed).toBe(true);
    expect((await limiter.consume('user:\udfff')).allowed).toBe(true);
  });

  it('two unnamed limiters with identical policies on one store share buckets', async () => {
    const { store } = fakeClockStore();
    const a = new RateLimiter({ max: 3, window: '1m', store });
    const b = new RateLimiter({ max: 3, window: 60_000, store });
    expect(a.keyFor('k')).toBe(b.keyFor('k'));
    await a.consume('k', 2);
    expect((await b.peek('k')).remaining).toBe(1);
    await b.consume('k');
    expect((await a.consume('k')).allowed).toBe(false);
  });

  it('two limiters with different names do not', async () => {
    const { store } = fakeClockStore();
    const a = new RateLimiter({ max: 3, window: '1m', store, name: 'login' });
    const b = new RateLimiter({ max: 3, window: '1m', store, name: 'signup' });
    expect(a.keyFor('k')).not.toBe(b.keyFor('k'));
    await a.consume('k', 3);
    expect((await a.consume('k')).allowed).toBe(false);
    expect(await b.consume('k')).toMatchObject({ allowed: true, remaining: 2 });
  });

  it('a named limiter shares with the same name, not with an unnamed one', async () => {
    const { store } = fakeClockStore();
    const named = new RateLimiter({ max: 3, window: '1m', store, name: 'api' });
    const again = new RateLimiter({ max: 3, window: '1m', store, name: 'api' });
    const unnamed = new RateLimiter({ max: 3, window: '1m', store });
    await named.consume('k', 3);
    expect((await again.peek('k')).remaining).toBe(0);
    expect((await unnamed.peek('k')).remaining).toBe(3);
  });

  it('unnamed limiters with different policies, or different prefixes, do not share', async () => {
    const { store } = fakeClockStore();
    const a = new RateLimiter({ max: 3, window: '1m', store });
    const b = new RateLimiter({ max: 3, window: '1m', burst: 5, store });
    const c = new RateLimiter({ max: 3, window: '1m', store, prefix: 'other' });
    await a.consume('k', 3);
    expect((await b.peek('k')).remaining).toBe(5);
    expect((await c.peek('k')).remaining).toBe(3);
  });
});

describe('RateLimiter: errors', () => {
  it('StoreUnavailableError and RateLimitExceededError are coded TollgateErrors', () => {
    const decision = {
      allowed: false,
      limit: 1,
      remaining: 0,
      resetMs: 1000,
      retryAfterMs: 0,
      policies: [],
      source: 'closed' as const,
    };
    const unavailable = new StoreUnavailableError(decision);
    expect(unavailable).toBeInstanceOf(TollgateError);
    expect(unavailable.code).toBe('TOLLGATE_STORE_UNAVAILABLE');
    const exceeded = new RateLimitExceededError(decision);
    expect(exceeded.retryAfter).toBe(1);
    expect(exceeded.code).toBe('TOLLGATE_RATE_LIMITED');
    expect(exceeded.message).toContain('1 second');
  });
});
