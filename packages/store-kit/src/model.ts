import type { BucketSpec, Store, StoreResult } from '@tollgate/core';

/**
 * The reference a store is held to: token buckets as the DESIGN describes them, written plainly
 * and independently of the stores. Each key keeps one bucket per policy and the time they were
 * last written; a bucket refills continuously at `ratePerMs` up to `capacity`. It never drops a
 * key, so a store that forgets a bucket once it is full answers within a hair of it (see `tolerance`).
 */
export class BucketModel implements Store {
  private readonly held = new Map<string, { since: number; tokens: number[] }>();

  constructor(private readonly now: () => number) {}

  consume(key: string, buckets: readonly BucketSpec[], costs: readonly number[]): StoreResult {
    const tokens = this.current(key, buckets);
    // The same tolerance as the limiter's: a token that has exactly refilled is not refused by rounding.
    if (tokens.some((t, i) => t < (costs[i] as number) - EPSILON)) return { allowed: false, tokens };
    return this.write(
      key,
      buckets.map((b, i) => Math.min(b.capacity, (tokens[i] as number) - (costs[i] as number))),
    );
  }

  adjust(key: string, buckets: readonly BucketSpec[], deltas: readonly number[]): StoreResult {
    const tokens = this.current(key, buckets);
    return this.write(
      key,
      buckets.map((b, i) => Math.min(b.capacity, (tokens[i] as number) - (deltas[i] as number))),
    );
  }

  lower(key: string, buckets: readonly BucketSpec[], ceilings: readonly number[]): StoreResult {
    const tokens = this.current(key, buckets);
    return this.write(
      key,
      tokens.map((t, i) => Math.min(t, ceilings[i] as number)),
    );
  }

  peek(key: string, buckets: readonly BucketSpec[]): StoreResult {
    return { allowed: true, tokens: this.current(key, buckets) };
  }

  reset(key: string): void {
    this.held.delete(key);
  }

  private current(key: string, buckets: readonly BucketSpec[]): number[] {
    const record = this.held.get(key);
    const elapsed = record === undefined ? 0 : Math.max(0, this.now() - record.since);
    // A bucket the key does not hold yet is full.
    return buckets.map((b, i) =>
      record === undefined || i >= record.tokens.length
        ? b.capacity
        : Math.min(b.capacity, (record.tokens[i] as number) + elapsed * b.ratePerMs),
    );
  }

  private write(key: string, tokens: number[]): StoreResult {
    this.held.set(key, { since: this.now(), tokens: [...tokens] });
    return { allowed: true, tokens };
  }
}

/** The limiter's rounding tolerance (core's `EPSILON`): tokens within it of a cost cover the cost. */
export const EPSILON = 1e-9;

/**
 * How far a store's tokens may be from the model's: a store may forget a bucket once it is full
 * to within `EPSILON` (both built-in stores do), and the arithmetic rounds in the last places.
 */
export function tolerance(expected: number, capacity: number): number {
  return 2 * EPSILON + (Math.abs(expected) + capacity) * 2 ** -40;
}
