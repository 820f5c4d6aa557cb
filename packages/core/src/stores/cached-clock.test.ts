import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cachedClock, MAX_REUSE } from './cached-clock.js';
import { MemoryStore } from './memory-store.js';
import type { BucketSpec } from './store.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A source that counts its reads and moves a millisecond on each. */
function counting(start = 1000) {
  const source = { reads: 0, now: start };
  const read = () => {
    source.reads++;
    return source.now++;
  };
  return { source, read };
}

describe('cachedClock', () => {
  it('answers from one reading until its timer has run, then reads again', () => {
    vi.useFakeTimers();
    const { source, read } = counting();
    const clock = cachedClock(read, 5);
    expect(clock()).toBe(1000);
    expect(clock()).toBe(1000);
    expect(source.reads).toBe(1);
    vi.advanceTimersByTime(4);
    expect(clock()).toBe(1000);
    vi.advanceTimersByTime(1);
    expect(clock()).toBe(1001);
    expect(source.reads).toBe(2);
  });

  it(`answers at most ${MAX_REUSE} calls from one reading while the event loop is held`, () => {
    const { source, read } = counting();
    const clock = cachedClock(read, 1000);
    const seen = Array.from({ length: 3 * MAX_REUSE + 1 }, () => clock());
    expect(source.reads).toBe(4);
    expect(seen.filter((t) => t === 1000)).toHaveLength(MAX_REUSE);
    expect(seen.at(-1)).toBe(1003);
  });

  it('sets no timer while idle: one per reading that needs it, gone once it has run', () => {
    vi.useFakeTimers();
    const clock = cachedClock(counting().read, 2);
    expect(vi.getTimerCount()).toBe(0);
    clock();
    clock();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never goes backwards, and is never ahead of its source', () => {
    vi.useFakeTimers();
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 300 }), (waits) => {
        const { source, read } = counting();
        const clock = cachedClock(read, 3);
        let last = Number.NEGATIVE_INFINITY;
        for (const wait of waits) {
          vi.advanceTimersByTime(wait);
          const t = clock();
          expect(t).toBeGreaterThanOrEqual(last);
          expect(t).toBeLessThan(source.now);
          last = t;
        }
        vi.clearAllTimers();
      }),
    );
  });
});

describe('MemoryStore with clockResolutionMs', () => {
  const bucket: BucketSpec = { id: 'b', capacity: 5, ratePerMs: 5 / 100 };

  it('is never more than resolution × rate tokens from the exact clock, either way', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const resolutionMs = 10;
    fc.assert(
      fc.property(
        fc.array(fc.record({ wait: fc.integer({ min: 0, max: 40 }), cost: fc.integer({ min: -2, max: 3 }) }), {
          maxLength: 200,
        }),
        (steps) => {
          const now = () => Date.now();
          const exact = new MemoryStore({ now });
          const cached = new MemoryStore({ now, clockResolutionMs: resolutionMs });
          try {
            for (const { wait, cost } of steps) {
              vi.advanceTimersByTime(wait);
              // adjust debits whatever the balance, so both stores take the same debits and only
              // the clock can separate them: late refills, and a debit of a full bucket dated early.
              const e = exact.adjust('k', [bucket], [cost]).tokens[0] as number;
              const c = cached.adjust('k', [bucket], [cost]).tokens[0] as number;
              expect(Math.abs(c - e)).toBeLessThanOrEqual(resolutionMs * bucket.ratePerMs + 1e-9);
            }
          } finally {
            exact.close();
            cached.close();
          }
        },
      ),
    );
  });

  it('counts every millisecond that passed once it reads the clock again: the refill is late, not lost', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const store = new MemoryStore({ now: () => Date.now(), clockResolutionMs: 50 });
    expect(store.consume('k', [bucket], [5]).tokens).toEqual([0]);
    vi.setSystemTime(Date.now() + 40);
    // Same reading: no refill seen yet.
    expect(store.peek('k', [bucket]).tokens).toEqual([0]);
    vi.advanceTimersByTime(50);
    expect(store.peek('k', [bucket]).tokens[0]).toBeCloseTo(4.5, 9);
    store.close();
  });
});
