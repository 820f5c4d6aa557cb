import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../stores/memory-store.js';
import { covers, EPSILON, firstReady, msUntil, msUntilSurely, refill, wholeTokens } from './bucket.js';
import { RateLimiter } from './rate-limiter.js';

/** Allows for the EPSILON admission tolerance accumulated over a sequence of debits. */
const SLACK = 1e-6;
const START = 1_700_000_000_000;

describe('bucket arithmetic', () => {
  it('refills linearly, capped at capacity, and never backwards', () => {
    expect(refill(0, 0, 500, 10, 0.01)).toBe(5);
    expect(refill(3, 100, 100, 10, 0.01)).toBe(3);
    expect(refill(3, 0, 10_000, 10, 0.01)).toBe(10);
    expect(refill(3, 1000, 500, 10, 0.01)).toBe(3);
  });

  it('covers a cost within EPSILON', () => {
    expect(covers(1, 1)).toBe(true);
    expect(covers(1 - EPSILON / 2, 1)).toBe(true);
    expect(covers(0.999, 1)).toBe(false);
    expect(covers(0, 0)).toBe(true);
  });

  it('counts whole tokens, never negative', () => {
    expect(wholeTokens(2.7)).toBe(2);
    expect(wholeTokens(3 - EPSILON / 2)).toBe(3);
    expect(wholeTokens(-1e-12)).toBe(0);
    expect(wholeTokens(-5)).toBe(0);
  });

  it('msUntil ends for balances no refill can make up: huge debts, NaN, -Infinity', () => {
    expect(msUntil(-1e300, 1, 10, 0.001)).toBeGreaterThan(2 ** 52);
    expect(msUntil(Number.NaN, 1, 10, 0.001)).toBe(Number.POSITIVE_INFINITY);
    expect(msUntil(Number.NEGATIVE_INFINITY, 1, 10, 0.001)).toBe(Number.POSITIVE_INFINITY);
  });

  it('msUntil is the exact whole millisecond', () => {
    expect(msUntil(5, 3, 10, 0.01)).toBe(0);
    expect(msUntil(0, 1, 10, 0.001)).toBe(1000);
    expect(msUntil(0.5, 1, 10, 0.001)).toBe(500);
    expect(msUntil(0, 10, 10, 10 / 60_000)).toBe(60_000);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (capacity, windowMs, f, g) => {
          const rate = capacity / windowMs;
          const tokens = f * capacity;
          const target = g * capacity;
          const ms = msUntil(tokens, target, capacity, rate);
          expect(Number.isInteger(ms)).toBe(true);
          expect(covers(refill(tokens, 0, ms, capacity, rate), target)).toBe(true);
          if (ms >= 1) expect(covers(refill(tokens, 0, ms - 1, capacity, rate), target)).toBe(false);
        },
      ),
    );
  });
});

/**
 * A rate that counts how often the arithmetic reads it (each refill multiplies by it once) and
 * stops a search that would otherwise block the event loop for seconds.
 */
function countingRate(ratePerMs: number, limit = 1000): { rate: number; reads: () => number } {
  let reads = 0;
  const rate = {
    valueOf() {
      reads += 1;
      if (reads > limit) throw new Error(`msUntil read the rate more than ${limit} times`);
      return ratePerMs;
    },
  };
  // An object whose valueOf is the number: the arithmetic in bucket.ts cannot tell the difference.
  return { rate: rate as unknown as number, reads: () => reads };
}

describe('msUntil in constant time (issue 13, item 4)', () => {
  // The probe's cases: the bucket just after one request, waiting to be full again. With them the
  // millisecond-by-millisecond search ran 953,674,316 steps (2.3 s to 6.5 s) and over 20 s.
  const cases = [
    { max: 1, windowMs: 1e15, burst: 1e10 },
    { max: 1000, windowMs: 2 ** 53 - 1, burst: 2 ** 52 - 1 },
    { max: 1, windowMs: 2 ** 53 - 1, burst: 2 ** 53 - 1 },
  ];
  for (const { max, windowMs, burst } of cases) {
    it(`max ${max}, window ${windowMs}, burst ${burst}: exact, in a few dozen refills at most`, () => {
      const ratePerMs = max / windowMs;
      for (const [tokens, target] of [
        [burst - 1, burst],
        [0, 1],
        [burst / 2, burst],
      ] as const) {
        const { rate, reads } = countingRate(ratePerMs);
        const ms = msUntil(tokens, target, burst, rate);
        expect(reads()).toBeLessThanOrEqual(120);
        if (ms >= 2 ** 52) continue; // beyond a double's millisecond resolution: reported as estimated
        expect(Number.isSafeInteger(ms)).toBe(true);
        expect(covers(refill(tokens, 0, ms, burst, ratePerMs), target)).toBe(true);
        expect(covers(refill(tokens, 0, ms - 1, burst, ratePerMs), target)).toBe(false);
      }
    });
  }

  it('a closed form off only by rounding is corrected in at most a handful of refills', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 86_400_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (capacity, windowMs, f) => {
          const { rate, reads } = countingRate(capacity / windowMs);
          msUntil(f * capacity, capacity, capacity, rate);
          expect(reads()).toBeLessThanOrEqual(6);
        },
      ),
    );
  });

  it('a target above the capacity is never reached: Infinity, not a hang', () => {
    const { rate, reads } = countingRate(0.001);
    expect(msUntil(0, 11, 10, rate)).toBe(Number.POSITIVE_INFINITY);
    expect(reads()).toBeLessThanOrEqual(120);
  });
});

describe('msUntilSurely', () => {
  it('is msUntil, or one millisecond more where the margin for rounding needs it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 999_999_999_999 }),
        fc.integer({ min: 1, max: 999_999_999_999 }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (capacity, max, windowMs, f, g) => {
          const rate = max / windowMs;
          fc.pre(capacity / rate <= 2 ** 40);
          const tokens = f * capacity;
          const target = g * capacity;
          const exact = msUntil(tokens, target, capacity, rate);
          const sure = msUntilSurely(tokens, target, capacity, rate);
          expect(sure === exact || sure === exact + 1).toBe(true);
          expect(covers(refill(tokens, 0, sure, capacity, rate), target)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('ends, as msUntil does, for balances no refill can make up', () => {
    expect(msUntilSurely(Number.NaN, 1, 10, 0.001)).toBe(Number.POSITIVE_INFINITY);
    expect(msUntilSurely(0, 11, 10, 0.001)).toBe(Number.POSITIVE_INFINITY);
    expect(msUntilSurely(-1e300, 1, 10, 0.001)).toBeGreaterThan(2 ** 52);
    expect(msUntilSurely(5, 3, 10, 0.01)).toBe(0);
  });
});

describe('firstReady', () => {
  it('finds the threshold of any monotone predicate from any guess in about 2 log2(error) calls', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 1, max: 2 ** 52 }),
        (threshold, guess) => {
          let calls = 0;
          const found = firstReady(guess, (ms) => {
            calls += 1;
            return ms >= threshold;
          });
          expect(found).toBe(threshold);
          const error = Math.abs(threshold - guess) + 1;
          expect(calls).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(error)) + 3);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('is Infinity when no safe integer is ready', () => {
    expect(firstReady(5, () => false)).toBe(Number.POSITIVE_INFINITY);
  });
});

// ---------------------------------------------------------------------------------------------
// Property-based tests of the token bucket as a caller sees it: RateLimiter over a MemoryStore
// driven by a fake integer-millisecond clock.

interface PolicySpec {
  max: number;
  windowMs: number;
  burst: number | undefined;
}

interface Op {
  advance: number;
  /** Per mille of the smallest capacity (+1), turned into a whole cost. */
  share: number;
}

const policyArb: fc.Arbitrary<PolicySpec> = fc.record({
  max: fc.integer({ min: 1, max: 20 }),
  windowMs: fc.oneof(
    fc.constantFrom(1, 7, 100, 250, 1000, 1500, 60_000, 3_600_000, 86_400_000),
    fc.integer({ min: 1, max: 100_000 }),
  ),
  burst: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
});

const opsArb: fc.Arbitrary<Op[]> = fc.array(
  fc.record({
    advance: fc.oneof(
      { arbitrary: fc.constant(0), weight: 3 },
      { arbitrary: fc.integer({ min: 0, max: 50 }), weight: 3 },
      { arbitrary: fc.integer({ min: 0, max: 5000 }), weight: 1 },
    ),
    share: fc.integer({ min: 0, max: 999 }),
  }),
  { minLength: 1, maxLength: 60 },
);

function capacityOf(p: PolicySpec): number {
  return p.burst ?? p.max;
}

function setup(policies: readonly PolicySpec[]) {
  const clock = { now: START };
  const store = new MemoryStore({ now: () => clock.now });
  const opts = policies.map((p) => ({
    max: p.max,
    window: p.windowMs,
    ...(p.burst === undefined ? {} : { burst: p.burst }),
  }));
  const limiter =
    opts.length === 1
      ? new RateLimiter({ ...(opts[0] as (typeof opts)[number]), store })
      : new RateLimiter({ policies: opts, store });
  const raw = () => store.peek(limiter.keyFor('k'), limiter.policies).tokens;
  return { clock, store, limiter, raw };
}

function costFor(op: Op, minCapacity: number): number {
  return Math.min(minCapacity, Math.floor((op.share * (minCapacity + 1)) / 1000));
}

/** Distinct policies (a limiter rejects duplicates). */
const policiesArb = fc.uniqueArray(policyArb, {
  minLength: 2,
  maxLength: 3,
  selector: (p) => `${p.max}-${p.windowMs}-${capacityOf(p)}`,
});

const RUNS = { numRuns: 150 };

describe('token bucket properties (RateLimiter + MemoryStore, fake clock)', () => {
  it('(1) admits at most burst + rate × t in every interval of length t', async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, opsArb, async (policy, ops) => {
        const { clock, store, limiter } = setup([policy]);
        const capacity = capacityOf(policy);
        const rate = policy.max / policy.windowMs;
        const admitted: { at: number; cost: number }[] = [];
        for (const op of ops) {
          clock.now += op.advance;
          const cost = costFor(op, capacity);
          const d = await limiter.consume('k', cost);
          admitted.push({ at: clock.now, cost: d.allowed ? cost : 0 });
        }
        for (let i = 0; i < admitted.length; i++) {
          let sum = 0;
          for (let j = i; j < admitted.length; j++) {
            sum += (admitted[j] as { cost: number }).cost;
            const t = (admitted[j] as { at: number }).at - (admitted[i] as { at: number }).at;
            expect(sum).toBeLessThanOrEqual(capacity + rate * t + SLACK);
          }
        }
        store.close();
      }),
      RUNS,
    );
  });

  it('(1b) the bound holds for every policy of a multi-policy limiter', async () => {
    await fc.assert(
      fc.asyncProperty(policiesArb, opsArb, async (policies, ops) => {
        const { clock, store, limiter } = setup(policies);
        const minCapacity = Math.min(...policies.map(capacityOf));
        const admitted: { at: number; cost: number }[] = [];
        for (const op of ops) {
          clock.now += op.advance;
          const cost = costFor(op, minCapacity);
          const d = await limiter.consume('k', cost);
          admitted.push({ at: clock.now, cost: d.allowed ? cost : 0 });
        }
        for (const p of policies) {
          const rate = p.max / p.windowMs;
          for (let i = 0; i < admitted.length; i++) {
            let sum = 0;
            for (let j = i; j < admitted.length; j++) {
              sum += (admitted[j] as { cost: number }).cost;
              const t = (admitted[j] as { at: number }).at - (admitted[i] as { at: number }).at;
              expect(sum).toBeLessThanOrEqual(capacityOf(p) + rate * t + SLACK);
            }
          }
        }
        store.close();
      }),
      RUNS,
    );
  });

  it('(2) remaining is a whole number, never negative and never above capacity', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          policyArb.map((p) => [p]),
          policiesArb,
        ),
        opsArb,
        async (policies, ops) => {
          const { clock, store, limiter } = setup(policies);
          const minCapacity = Math.min(...policies.map(capacityOf));
          const checkDecision = (d: Awaited<ReturnType<RateLimiter['consume']>>) => {
            expect(Number.isInteger(d.remaining)).toBe(true);
            expect(d.remaining).toBeGreaterThanOrEqual(0);
            expect(d.remaining).toBeLessThanOrEqual(d.limit);
            for (const s of d.policies) {
              expect(Number.isInteger(s.remaining)).toBe(true);
              expect(s.remaining).toBeGreaterThanOrEqual(0);
              expect(s.remaining).toBeLessThanOrEqual(s.policy.capacity);
              expect(s.resetMs).toBeGreaterThanOrEqual(0);
            }
          };
          for (const op of ops) {
            clock.now += op.advance;
            checkDecision(await limiter.consume('k', costFor(op, minCapacity)));
            checkDecision(await limiter.peek('k'));
          }
          store.close();
        },
      ),
      RUNS,
    );
  });

  it('(3) retryAfterMs is exact: waiting d ms admits the same cost, d - 1 ms does not', async () => {
    let refusals = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          policyArb.map((p) => [p]),
          policiesArb,
        ),
        opsArb,
        async (policies, ops) => {
          const { clock, store, limiter } = setup(policies);
          const minCapacity = Math.min(...policies.map(capacityOf));
          for (const op of ops) {
            clock.now += op.advance;
            const cost = costFor(op, minCapacity);
            const d = await limiter.consume('k', cost);
            if (d.allowed) {
              expect(d.retryAfterMs).toBe(0);
              continue;
            }
            refusals += 1;
            expect(Number.isInteger(d.retryAfterMs)).toBe(true);
            expect(d.retryAfterMs).toBeGreaterThanOrEqual(1);
            clock.now += d.retryAfterMs - 1;
            const early = await limiter.consume('k', cost);
            expect(early.allowed).toBe(false);
            expect(early.retryAfterMs).toBe(1);
            clock.now += 1;
            const onTime = await limiter.consume('k', cost);
            expect(onTime.allowed).toBe(true);
          }
          store.close();
        },
      ),
      RUNS,
    );
    expect(refusals).toBeGreaterThan(50);
  });

  it('(4) a refused request consumes nothing', async () => {
    let refusals = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          policyArb.map((p) => [p]),
          policiesArb,
        ),
        opsArb,
        async (policies, ops) => {
          const { clock, store, limiter, raw } = setup(policies);
          const minCapacity = Math.min(...policies.map(capacityOf));
          for (const op of ops) {
            clock.now += op.advance;
            const before = await limiter.peek('k');
            const tokensBefore = raw();
            const d = await limiter.consume('k', costFor(op, minCapacity));
            if (d.allowed) continue;
            refusals += 1;
            expect(raw()).toEqual(tokensBefore);
            const after = await limiter.peek('k');
            expect(after).toEqual(before);
          }
          store.close();
        },
      ),
      RUNS,
    );
    expect(refusals).toBeGreaterThan(50);
  });

  it('(5) multi-policy is all-or-nothing: a refusal by any bucket changes none', async () => {
    let refusedByOne = 0;
    await fc.assert(
      fc.asyncProperty(policiesArb, opsArb, async (policies, ops) => {
        const { clock, store, limiter, raw } = setup(policies);
        const minCapacity = Math.min(...policies.map(capacityOf));
        for (const op of ops) {
          clock.now += op.advance;
          const cost = costFor(op, minCapacity);
          const before = raw();
          const d = await limiter.consume('k', cost);
          const after = raw();
          expect(d.allowed).toBe(d.policies.every((s) => s.allowed));
          if (d.allowed) {
            after.forEach((t, i) => {
              expect(t).toBeCloseTo(
                Math.min((before[i] as number) - cost, policies[i] ? capacityOf(policies[i]) : 0),
                9,
              );
            });
          } else {
            if (d.policies.some((s) => s.allowed)) refusedByOne += 1;
            expect(after).toEqual(before);
          }
        }
        store.close();
      }),
      RUNS,
    );
    // The interesting case (some buckets could pay, another could not) must actually occur.
    expect(refusedByOne).toBeGreaterThan(0);
  });

  it('(6) after waiting resetMs the bucket is full', async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, opsArb, async (policy, ops) => {
        const { clock, store, limiter } = setup([policy]);
        const capacity = capacityOf(policy);
        for (const op of ops) {
          clock.now += op.advance;
          await limiter.consume('k', costFor(op, capacity));
        }
        const d = await limiter.peek('k');
        expect(d.limit).toBe(capacity);
        if (d.resetMs >= 1) {
          clock.now += d.resetMs - 1;
          const early = store.peek(limiter.keyFor('k'), limiter.policies).tokens[0] as number;
          expect(early).toBeLessThan(capacity - EPSILON);
          clock.now += 1;
        }
        const full = await limiter.peek('k');
        expect(full.remaining).toBe(capacity);
        expect(full.resetMs).toBe(0);
        store.close();
      }),
      RUNS,
    );
  });

  it('(6b) each policy of a multi-policy limiter is full after its own resetMs', async () => {
    await fc.assert(
      fc.asyncProperty(policiesArb, opsArb, async (policies, ops) => {
        const { clock, store, limiter } = setup(policies);
        const minCapacity = Math.min(...policies.map(capacityOf));
        for (const op of ops) {
          clock.now += op.advance;
          await limiter.consume('k', costFor(op, minCapacity));
        }
        const start = clock.now;
        const d = await limiter.peek('k');
        for (const [i, s] of d.policies.entries()) {
          clock.now = start + s.resetMs;
          const later = await limiter.peek('k');
          expect(later.policies[i]?.remaining).toBe(s.policy.capacity);
          expect(later.policies[i]?.resetMs).toBe(0);
        }
        clock.now = start + Math.max(...d.policies.map((s) => s.resetMs));
        const all = await limiter.peek('k');
        expect(all.policies.every((s) => s.remaining === s.policy.capacity)).toBe(true);
        store.close();
      }),
      RUNS,
    );
  });
});
