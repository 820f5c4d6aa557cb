import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, InvalidOptionError } from '../errors.js';
import { RateLimiter } from '../limiter/rate-limiter.js';
import { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
import type { BucketSpec } from './store.js';

const START = 1_700_000_000_000;
/** 10 tokens, one every 100 ms: full again 1 s after being emptied. */
const BUCKET: BucketSpec = { id: '10-1000-10', capacity: 10, ratePerMs: 0.01 };
const B = [BUCKET];

const stores: MemoryStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function make(options: Omit<MemoryStoreOptions, 'now'> = {}) {
  const clock = { now: START };
  const store = new MemoryStore({ ...options, now: () => clock.now });
  stores.push(store);
  return { clock, store };
}

function tokens(store: MemoryStore, key: string): number {
  return store.peek(key, B).tokens[0] as number;
}

describe('MemoryStore basics', () => {
  it('debits, refuses without debiting, and refills', () => {
    const { clock, store } = make();
    expect(store.consume('k', B, [4])).toEqual({ allowed: true, tokens: [6] });
    expect(store.consume('k', B, [7])).toEqual({ allowed: false, tokens: [6] });
    expect(tokens(store, 'k')).toBe(6);
    clock.now += 200;
    expect(tokens(store, 'k')).toBe(8);
    clock.now += 10_000;
    expect(tokens(store, 'k')).toBe(10);
  });

  it('debits every bucket or none', () => {
    const { store } = make();
    const two: BucketSpec[] = [BUCKET, { id: '3-60000-3', capacity: 3, ratePerMs: 3 / 60_000 }];
    expect(store.consume('k', two, [3, 3]).allowed).toBe(true);
    expect(store.consume('k', two, [1, 1])).toEqual({ allowed: false, tokens: [7, 0] });
    expect(store.peek('k', two).tokens).toEqual([7, 0]);
  });

  it('cost 0 on a full bucket stores nothing', () => {
    const { store } = make();
    expect(store.consume('k', B, [0])).toEqual({ allowed: true, tokens: [10] });
    expect(store.size).toBe(0);
  });

  it('a bucket refilled to full by the time of a zero-cost call is dropped', () => {
    const { clock, store } = make();
    store.consume('k', B, [1]);
    expect(store.size).toBe(1);
    clock.now += 100;
    store.consume('k', B, [0]);
    expect(store.size).toBe(0);
  });

  it('reset forgets the key', () => {
    const { store } = make();
    store.consume('k', B, [10]);
    store.reset('k');
    expect(store.size).toBe(0);
    expect(tokens(store, 'k')).toBe(10);
  });

  it('peek does not store anything', () => {
    const { store } = make();
    store.peek('k', B);
    expect(store.size).toBe(0);
  });

  it('time running backwards adds nothing', () => {
    const { clock, store } = make();
    store.consume('k', B, [5]);
    clock.now -= 10_000;
    expect(tokens(store, 'k')).toBe(5);
  });

  it('sweep() drops the keys whose buckets have refilled and keeps the others', () => {
    const { clock, store } = make();
    store.consume('small', B, [1]); // full again after 100 ms
    store.consume('big', B, [10]); // full again after 1000 ms
    clock.now += 100;
    store.sweep();
    expect(store.size).toBe(1);
    expect(tokens(store, 'big')).toBeCloseTo(1, 9);
    clock.now += 900;
    store.sweep();
    expect(store.size).toBe(0);
  });

  it.each([
    [{ maxKeys: 0 }, 'maxKeys'],
    [{ maxKeys: 1.5 }, 'maxKeys'],
    [{ maxKeys: '10' }, 'maxKeys'],
    [{ sweepIntervalMs: -1 }, 'sweepIntervalMs'],
    [{ now: 5 }, 'now'],
  ])('rejects %j', (options, option) => {
    let error: unknown;
    try {
      new MemoryStore(options as MemoryStoreOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe(option);
    expect((error as InvalidOptionError).code).toBe(ErrorCodes.INVALID_OPTION);
  });

  it('rejects an unknown option', () => {
    expect(() => new MemoryStore({ maxkeys: 10 } as unknown as MemoryStoreOptions)).toThrow(
      expect.objectContaining({ code: ErrorCodes.UNKNOWN_OPTION, option: 'maxkeys' }),
    );
  });
});

describe('MemoryStore bound', () => {
  it('never holds more than maxKeys', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(
          fc.record({
            key: fc.integer({ min: 0, max: 60 }),
            cost: fc.integer({ min: 0, max: 10 }),
            advance: fc.integer({ min: 0, max: 400 }),
          }),
          { maxLength: 200 },
        ),
        (maxKeys, ops) => {
          const { clock, store } = make({ maxKeys });
          for (const op of ops) {
            clock.now += op.advance;
            store.consume(`k${op.key}`, B, [op.cost]);
            expect(store.size).toBeLessThanOrEqual(maxKeys);
          }
          store.close();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('drops refilled buckets first: a flood after they refilled evicts nothing live', () => {
    const { clock, store } = make({ maxKeys: 100 });
    for (let i = 0; i < 100; i++) store.consume(`old${i}`, B, [3]);
    expect(store.size).toBe(100);
    clock.now += 300; // every old bucket is full again
    for (let i = 0; i < 100; i++) store.consume(`new${i}`, B, [3]);
    expect(store.evictions).toBe(0);
    expect(store.size).toBe(100);
    for (let i = 0; i < 100; i++) expect(tokens(store, `new${i}`)).toBe(7);
  });

  it('drops refilled buckets before a live one once the next sweep is due', () => {
    // A refilled bucket ("quick") sits behind a live one ("live") in LRU order. Between sweeps
    // (at most one a second while full) LRU order decides; when a sweep is due, it runs first.
    const { clock, store } = make({ maxKeys: 3 });
    clock.now += 5000;
    store.consume('a', B, [10]); // full at +1000
    store.consume('live', B, [10]); // full at +1000
    store.consume('c', B, [10]);
    store.consume('quick', B, [1]); // all live: evicts 'a' (counted), and sweeps
    expect(store.evictions).toBe(1);
    clock.now += 1000; // 'quick', 'live' and 'c' are full again
    store.consume('late', B, [10]);
    clock.now += 500; // 'late' still has 5 tokens to regain
    store.consume('d', B, [10]);
    store.consume('e', B, [10]);
    expect(store.evictions).toBe(1);
    expect(tokens(store, 'late')).toBeCloseTo(5, 9);
  });

  it('when every held bucket is live, evicts the least recently used and counts it', () => {
    const { clock, store } = make({ maxKeys: 3 });
    store.consume('a', B, [10]);
    store.consume('b', B, [10]);
    store.consume('c', B, [10]);
    clock.now += 10;
    store.consume('a', B, [0.1]); // 'a' is now the most recently used
    store.consume('d', B, [10]);
    expect(store.evictions).toBe(1);
    expect(store.size).toBe(3);
    expect(tokens(store, 'b')).toBe(10); // evicted: a fresh budget
    expect(tokens(store, 'a')).toBeLessThan(1);
    expect(tokens(store, 'c')).toBeLessThan(1);
    store.consume('e', B, [10]);
    expect(store.evictions).toBe(2);
    expect(tokens(store, 'c')).toBe(10);
  });

  it('a flood does not silently reset a live client', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 2000 }),
        async (maxKeys, flood, pause) => {
          const { clock, store } = make({ maxKeys });
          const limiter = new RateLimiter({ max: 5, window: '1h', store });
          for (let i = 0; i < 5; i++) await limiter.consume('victim');
          expect((await limiter.consume('victim')).allowed).toBe(false);
          clock.now += pause;
          for (let i = 0; i < flood; i++) await limiter.consume(`flood-${i}`);
          const after = await limiter.consume('victim');
          expect(after.allowed === false || store.evictions > 0).toBe(true);
          if (flood < maxKeys) expect(after.allowed).toBe(false);
          store.close();
        },
      ),
      { numRuns: 100 },
    );
  });
});
