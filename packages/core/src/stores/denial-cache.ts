import { covers, refill } from '../limiter/bucket.js';
import type { BucketSpec, StoreResult } from './store.js';
import { tokensAt } from './tokens-at.js';

/** A refusal as Redis reported it: each bucket's tokens at `since`, untouched by the refusal. */
interface Refusal {
  readonly buckets: readonly BucketSpec[];
  readonly since: number;
  readonly held: readonly number[];
  /** Local monotonic ms after which the refused costs would surely be covered: then it is dropped. */
  readonly staleAt: number;
}

/**
 * Refusals that Redis gave, kept so that calls that would surely be refused again are answered
 * here, without a round trip. Bounded: at most `maxKeys` keys, the oldest dropped first, and an
 * entry is dropped once the projection says its refused cost would be covered.
 *
 * The answer is recomputed on every lookup with bucket.ts arithmetic from the state Redis
 * returned, for the costs asked now, at the latest time the server's clock can show. Other
 * callers can only take tokens, which keeps a refusal true; what gives tokens back (a reset, a
 * refund) must call `delete`.
 */
export class DenialCache {
  private readonly entries = new Map<string, Refusal>();

  constructor(readonly maxKeys: number) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * The refusal for `costs` if the buckets, refilled to `latest` (the latest the server's clock
   * can be), still cannot pay; undefined when Redis must be asked. `earliest` is the earliest the
   * server's clock can be now, less the estimate's slack: the reported tokens are computed there
   * (backwards, before `since`), so the wait computed from them is never short.
   */
  lookup(
    key: string,
    buckets: readonly BucketSpec[],
    costs: readonly number[],
    latest: number,
    earliest: number,
    local: number,
  ): StoreResult | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (local >= entry.staleAt || !sameBuckets(entry.buckets, buckets)) {
      this.entries.delete(key);
      return undefined;
    }
    let refused = false;
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i] as BucketSpec;
      if (!covers(refill(entry.held[i] as number, entry.since, latest, b.capacity, b.ratePerMs), costs[i] as number)) {
        refused = true;
        break;
      }
    }
    if (!refused) return undefined;
    const tokens = new Array<number>(buckets.length);
    for (let i = 0; i < buckets.length; i++) {
      tokens[i] = tokensAt(entry.held[i] as number, entry.since, earliest, buckets[i] as BucketSpec);
    }
    return { allowed: false, tokens };
  }

  /**
   * Keeps a refusal. `staleAfterMs` is how long, from `local`, the refused costs may stay
   * uncovered; past it the entry is no use and is dropped.
   */
  remember(
    key: string,
    buckets: readonly BucketSpec[],
    since: number,
    held: readonly number[],
    local: number,
    staleAfterMs: number,
  ): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxKeys) this.evict(local);
    this.entries.set(key, { buckets, since, held, staleAt: local + staleAfterMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Drops stale entries from the oldest end, and the oldest live one if that freed nothing. */
  private evict(local: number): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size < this.maxKeys && entry.staleAt > local) return;
      this.entries.delete(key);
    }
  }
}

function sameBuckets(a: readonly BucketSpec[], b: readonly BucketSpec[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as BucketSpec;
    const y = b[i] as BucketSpec;
    if (x.id !== y.id || x.capacity !== y.capacity || x.ratePerMs !== y.ratePerMs) return false;
  }
  return true;
}
