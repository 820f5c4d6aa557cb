import { randomUUID } from 'node:crypto';
import {
  type BucketSpec,
  type Decision,
  RateLimiter,
  type RateLimiterOptions,
  type Store,
  type StoreResult,
} from '@tollgate/core';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { BucketModel, tolerance } from './model.js';
import { type Step, scenarios } from './scenarios.js';

/** The clock a store under test should read, when it accepts one (`now` in the built-in stores). */
export interface StoreKitClock {
  now(): number;
}

export interface StoreKitOptions {
  /** A fresh store. Give it `clock.now` as its clock if it accepts one (see `injectedClock`). */
  create(clock: StoreKitClock): Store | Promise<Store>;
  /** Releases a store made by `create` or `sameAs` (close a client, stop a timer). */
  dispose?(store: Store): void | Promise<void>;
  /**
   * False when the store reads its own clock (a server's): time is then never advanced, buckets
   * refill too slowly to matter, and refill is checked once in real time. Default true.
   */
  injectedClock?: boolean;
  /**
   * Another store that must answer every call identically, bit for bit (RedisStore is held to
   * MemoryStore this way): the model alone allows for rounding, this does not.
   */
  sameAs?(clock: StoreKitClock): Store | Promise<Store>;
  /** fast-check runs per property; default 50. */
  numRuns?: number;
}

const START = 1_764_000_000_000;
type Op = 'consume' | 'adjust' | 'lower' | 'peek' | 'reset';

/** Checks an answer: `allowed` exactly, tokens to within rounding (a store's clock may add a hair). */
function expectResult(got: StoreResult | undefined, allowed: boolean, tokens: number[]): void {
  expect(got?.allowed).toBe(allowed);
  expect(got?.tokens).toHaveLength(tokens.length);
  for (const [i, t] of tokens.entries()) expect(got?.tokens[i]).toBeCloseTo(t, 9);
}

/**
 * Registers vitest tests that hold a `Store` to tollgate's token-bucket semantics: consume, peek,
 * reset, adjust and lower (when the store has them), several buckets decided all-or-nothing,
 * costs, keys, scopes, refill over time, and random call sequences checked against a reference
 * model with fast-check. Call it at the top level of a test file, or inside a `describe`.
 */
export function describeStoreConformance(name: string, options: StoreKitOptions): void {
  const timed = options.injectedClock !== false;
  const numRuns = options.numRuns ?? 50;
  const made: Store[] = [];
  // A refill rate for a bucket of `capacity` over `windowMs`; untimed, so slow that a test's real time adds nothing.
  const rate = (capacity: number, windowMs: number) => (timed ? capacity / windowMs : capacity / 1e18);

  /** A store, the model and (when asked) the twin, on one clock, each under keys of its own. */
  async function setup() {
    const clock = { now: timed ? START : Date.now() };
    const read: StoreKitClock = { now: () => clock.now };
    const store = await options.create(read);
    made.push(store);
    const twin = options.sameAs ? await options.sameAs(read) : undefined;
    if (twin) made.push(twin);
    // Valid as a limiter's `prefix` too (letters, digits, '-'): the calls made here put a ':' after it.
    const prefix = `sk-${randomUUID()}`;
    const twinPrefix = `sk-${randomUUID()}`;
    const model = new BucketModel(read.now);

    /** Runs one call on all of them; checks the store against the model and the twin; returns the store's answer. */
    async function call(op: Op, key: string, buckets: readonly BucketSpec[], values: readonly number[] = []) {
      const at = (p: string) => (p === '' ? key : `${p}:${key}`);
      const on = async (s: Store, p: string): Promise<StoreResult | undefined> => {
        if (op === 'reset') return void (await s.reset(at(p)));
        if (op === 'peek') return s.peek(at(p), buckets);
        const f = s[op];
        if (!f) throw new Error(`the store has no ${op}()`);
        return f.call(s, at(p), buckets, values);
      };
      const got = await on(store, prefix);
      const want = await on(model, '');
      // Signed zeros are the same token count (Lua hands back 0 where JS's Math.min(0, -0) gives -0).
      const unsigned = (r: StoreResult | undefined) => r && { ...r, tokens: r.tokens.map((t) => t + 0) };
      if (twin) expect(unsigned(got), `${op} on the twin store`).toEqual(unsigned(await on(twin, twinPrefix)));
      if (got === undefined || want === undefined) return got;
      expect(got.allowed, `${op}(${key}) allowed`).toBe(want.allowed);
      expect(got.tokens).toHaveLength(buckets.length);
      got.tokens.forEach((t, i) => {
        const expected = want.tokens[i] as number;
        const within = Math.abs(t - expected) <= tolerance(expected, (buckets[i] as BucketSpec).capacity);
        expect(within, `${op}(${key}) bucket ${i}: ${t}, the model says ${expected}`).toBe(true);
      });
      return got;
    }
    const advance = (ms: number) => {
      if (timed) clock.now += ms;
    };
    return { store, twin, clock, prefix, twinPrefix, call, advance };
  }

  const ten: BucketSpec = { id: 'ten', capacity: 10, ratePerMs: rate(10, 1000) };
  const slow: BucketSpec = { id: 'slow', capacity: 3, ratePerMs: rate(3, 60_000) };

  describe(`${name}: store conformance`, () => {
    afterEach(async () => {
      for (const s of made.splice(0)) await options.dispose?.(s);
    });

    it('a key never used is full; peek changes nothing', async () => {
      const { call } = await setup();
      expectResult(await call('peek', 'new', [ten, slow]), true, [10, 3]);
      await call('peek', 'new', [ten, slow]);
    });

    it('consume debits; a refusal debits nothing and answers the tokens held', async () => {
      const { call } = await setup();
      expectResult(await call('consume', 'k', [ten], [4]), true, [6]);
      expectResult(await call('consume', 'k', [ten], [7]), false, [6]);
      expectResult(await call('peek', 'k', [ten]), true, [6]);
      expect((await call('consume', 'k', [ten], [6]))?.allowed).toBe(true);
      expect((await call('consume', 'k', [ten], [1]))?.allowed).toBe(false);
    });

    it('several buckets: every one is debited, or none', async () => {
      const { call } = await setup();
      expectResult(await call('consume', 'k', [ten, slow], [3, 3]), true, [7, 0]);
      expectResult(await call('consume', 'k', [ten, slow], [1, 1]), false, [7, 0]);
      expectResult(await call('peek', 'k', [ten, slow]), true, [7, 0]);
    });

    it('costs: zero, fractional, above the capacity (refused, never charged), negative (a refund, capped)', async () => {
      const { call } = await setup();
      expectResult(await call('consume', 'k', [ten], [0]), true, [10]);
      expectResult(await call('consume', 'k', [ten], [2.5]), true, [7.5]);
      expectResult(await call('consume', 'k', [ten], [11]), false, [7.5]);
      expectResult(await call('consume', 'k', [ten], [-1]), true, [8.5]);
      expectResult(await call('consume', 'k', [ten], [-100]), true, [10]);
    });

    it('reset makes every bucket of the key full again, and only that key', async () => {
      const { call } = await setup();
      await call('consume', 'a', [ten, slow], [10, 3]);
      await call('consume', 'b', [ten, slow], [5, 1]);
      await call('reset', 'a', []);
      expectResult(await call('peek', 'a', [ten, slow]), true, [10, 3]);
      expectResult(await call('peek', 'b', [ten, slow]), true, [5, 2]);
      await call('reset', 'never-used', []);
    });

    it('keys are separate, whatever they hold', async () => {
      const { call } = await setup();
      const keys = ['user:42', 'user:4', '{tag}x', 'ключ 🔑', ' spaced ', 'k'.repeat(600), '*', 'a\nb'];
      for (const [i, key] of keys.entries()) await call('consume', key, [ten], [i + 1]);
      for (const [i, key] of keys.entries()) expectResult(await call('peek', key, [ten]), true, [10 - i - 1]);
    });

    if (timed) {
      it('refills continuously at its rate, to the capacity and no further', async () => {
        const { call, advance } = await setup();
        await call('consume', 'k', [ten, slow], [10, 3]);
        advance(150);
        const t = (await call('peek', 'k', [ten, slow]))?.tokens as number[];
        expect(t[0]).toBeCloseTo(1.5, 9);
        expect(t[1]).toBeCloseTo(150 * (3 / 60_000), 12);
        expect((await call('consume', 'k', [ten, slow], [2, 0]))?.allowed).toBe(false);
        advance(50);
        expect((await call('consume', 'k', [ten, slow], [2, 0]))?.allowed).toBe(true);
        advance(3_600_000);
        expectResult(await call('peek', 'k', [ten, slow]), true, [10, 3]);
      });

      it('a token that refills exactly on time is granted', async () => {
        const { call, advance } = await setup();
        const seven: BucketSpec = { id: 'seven', capacity: 7, ratePerMs: 7 / 60_000 };
        await call('consume', 'k', [seven], [7]);
        advance(8571); // 0.99995 tokens
        expect((await call('consume', 'k', [seven], [1]))?.allowed).toBe(false);
        advance(1); // 1.000067
        expect((await call('consume', 'k', [seven], [1]))?.allowed).toBe(true);
      });
    } else {
      it('refills over real time', async () => {
        const { store, prefix } = await setup();
        const quick: BucketSpec = { id: 'quick', capacity: 2, ratePerMs: 2 / 200 };
        expect((await store.consume(`${prefix}:k`, [quick], [2])).allowed).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 150));
        const [tokens] = (await store.peek(`${prefix}:k`, [quick])).tokens as number[];
        expect(tokens).toBeGreaterThanOrEqual(1);
        expect(tokens).toBeLessThanOrEqual(2);
      });
    }

    it('adjust and lower: adjust may go below zero, lower never adds (both optional, but a pair)', async () => {
      const { store, call } = await setup();
      // The LLM limiter needs both and HTTP limiting neither: a store has both or neither.
      expect(typeof store.adjust, 'adjust and lower come together').toBe(typeof store.lower);
      if (!store.adjust) return;
      expectResult(await call('adjust', 'k', [ten, slow], [12, -1]), true, [-2, 3]);
      expectResult(await call('consume', 'k', [ten, slow], [1, 0]), false, [-2, 3]);
      expectResult(await call('lower', 'k', [ten, slow], [5, 1]), true, [-2, 1]);
      expectResult(await call('adjust', 'k', [ten, slow], [-7, 0]), true, [5, 1]);
      expectResult(await call('peek', 'k', [ten, slow]), true, [5, 1]);
      // A ceiling of -0 (found by the random sequences): the same as 0, on every store.
      expectResult(await call('lower', 'z', [ten, slow], [0, -0]), true, [0, 0]);
    });

    it('scope(prefix), when the store has one, is the same bucket as prefix + key', async () => {
      const { store, prefix } = await setup();
      const key = `${prefix}:view:k`;
      // Without scope() a limiter calls the store with full keys: the same calls this test makes.
      const view = store.scope?.(`${prefix}:view:`) ?? {
        consume: (k: string, b: readonly BucketSpec[], c: readonly number[]) =>
          store.consume(`${prefix}:view:${k}`, b, c),
        peek: (k: string, b: readonly BucketSpec[]) => store.peek(`${prefix}:view:${k}`, b),
        reset: (k: string) => store.reset(`${prefix}:view:${k}`),
      };
      expectResult(await view.consume('k', [ten], [4]), true, [6]);
      expectResult(await store.peek(key, [ten]), true, [6]);
      await store.consume(key, [ten], [1]);
      expectResult(await view.peek('k', [ten]), true, [5]);
      await view.reset('k');
      expectResult(await store.peek(key, [ten]), true, [10]);
    });

    it('random call sequences answer as the model does', async () => {
      const probe = await setup();
      const ops: Op[] =
        probe.store.adjust && probe.store.lower
          ? ['consume', 'consume', 'adjust', 'lower', 'peek', 'reset']
          : ['consume', 'consume', 'consume', 'peek', 'reset'];
      const bucket = fc.record({
        capacity: fc.integer({ min: 1, max: 50 }),
        // At least a second: a store on a server (Redis) expires a key in real time, about a
        // refill's time after its last write, while the kit's clock stands still between steps;
        // with a window of a few ms the key could vanish mid-run on a slow machine.
        windowMs: fc.integer({ min: 1000, max: 60_000 }),
      });
      const step = fc.record({
        advance: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5000 })),
        op: fc.constantFrom(...ops),
        key: fc.constantFrom('a', 'b'),
        amounts: fc.array(fc.oneof(fc.integer({ min: -5, max: 60 }), fc.double({ min: -5, max: 60, noNaN: true })), {
          minLength: 3,
          maxLength: 3,
        }),
      });
      await fc.assert(
        fc.asyncProperty(
          fc.array(bucket, { minLength: 1, maxLength: 3 }),
          fc.array(step, { maxLength: 40 }),
          async (specs, steps) => {
            const { call, advance } = await setup();
            const buckets = specs.map((b, i) => ({
              id: `b${i}`,
              capacity: b.capacity,
              ratePerMs: rate(b.capacity, b.windowMs),
            }));
            for (const s of steps) {
              advance(s.advance);
              await call(s.op, s.key, buckets, s.amounts.slice(0, buckets.length));
            }
          },
        ),
        { numRuns },
      );
    });

    if (timed) {
      /** Plays steps through a limiter on `store`, keys under `prefix`. */
      async function play(
        store: Store,
        advance: (ms: number) => void,
        limiter: RateLimiterOptions,
        steps: Step[],
        prefix: string,
      ) {
        const l = new RateLimiter({ ...limiter, prefix, store } as RateLimiterOptions);
        const out: (Decision | 'reset')[] = [];
        for (const s of steps) {
          advance(s.advance);
          if (s.op === 'consume') out.push(await l.consume(s.key, s.cost ?? 1));
          else if (s.op === 'peek') out.push(await l.peek(s.key));
          else out.push(await l.reset(s.key).then(() => 'reset' as const));
        }
        return out;
      }

      it.each(scenarios)('through a RateLimiter: $name', async ({ limiter, steps }) => {
        const a = await setup();
        const got = await play(a.store, a.advance, limiter, steps, a.prefix);
        const clock = { now: START };
        const model = new BucketModel(() => clock.now);
        const want = await play(model, (ms) => (clock.now += ms), limiter, steps, 'model');
        for (const [i, d] of got.entries()) {
          const w = want[i] as Decision | 'reset';
          if (d === 'reset' || w === 'reset') {
            expect(d).toBe(w);
            continue;
          }
          expect({ allowed: d.allowed, remaining: d.remaining, limit: d.limit }, `step ${i}`).toEqual({
            allowed: w.allowed,
            remaining: w.remaining,
            limit: w.limit,
          });
          // Waits come from the tokens by the limiter's arithmetic: a rounding may move them by a millisecond.
          expect(Math.abs(d.retryAfterMs - w.retryAfterMs)).toBeLessThanOrEqual(1);
          expect(Math.abs(d.resetMs - w.resetMs)).toBeLessThanOrEqual(1);
        }
        expect(want.some((d) => d !== 'reset' && !d.allowed)).toBe(true);
        if (options.sameAs) {
          // The twin on a clock of its own, from the same start: every decision identical.
          const t = await setup();
          expect(await play(t.twin as Store, t.advance, limiter, steps, t.twinPrefix)).toEqual(got);
        }
      });
    }
  });
}
