import { InvalidOptionError } from '../errors.js';
import { covers, msUntil, refill } from '../limiter/bucket.js';
import { assertKnownOptions, assertOptionsObject, positiveInteger } from '../options/validate.js';
import { recordEvictions } from '../telemetry/rate-limit-metrics.js';
import type { BucketSpec, Store, StoreResult } from './store.js';

/** The options of `new MemoryStore()`; all are optional. */
export interface MemoryStoreOptions {
  /** Most keys held at once (default 1,000,000). Full buckets are dropped first; see `evictions`. */
  maxKeys?: number;
  /** How often idle, refilled buckets are swept away (default `60000` ms). */
  sweepIntervalMs?: number;
  /** The clock, in milliseconds (default `Date.now`). Tests inject one. */
  now?: () => number;
}

/** A bucket set: `[since, tokens0, tokens1, …]`, plus when it will be full again. */
interface Entry {
  since: number;
  fullAt: number;
  tokens: number[];
}

const KNOWN = new Set(['maxKeys', 'sweepIntervalMs', 'now']);

/**
 * The default store: buckets in this process's memory, bounded by `maxKeys`. A bucket that has
 * refilled is the same as no bucket, so those are dropped first, by a sweep (at most once a second
 * while the store is full). Between sweeps the least recently used bucket makes room; if it was
 * still live, that is counted in `evictions`.
 */
export class MemoryStore implements Store {
  readonly maxKeys: number;
  /** Live buckets dropped to make room: each one gave a client a fresh budget. */
  evictions = 0;
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly sweepIntervalMs: number;
  private lastSweep = 0;
  private cursor: MapIterator<[string, Entry]> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(options?: MemoryStoreOptions) {
    const opts = assertOptionsObject(options, 'MemoryStore');
    assertKnownOptions(opts, KNOWN, 'MemoryStore');
    this.maxKeys = opts.maxKeys === undefined ? 1_000_000 : positiveInteger(opts.maxKeys, 'maxKeys');
    this.sweepIntervalMs =
      opts.sweepIntervalMs === undefined ? 60_000 : positiveInteger(opts.sweepIntervalMs, 'sweepIntervalMs');
    if (opts.now !== undefined && typeof opts.now !== 'function') {
      throw new InvalidOptionError('now', opts.now, 'accepted: a function returning milliseconds');
    }
    this.now = (opts.now as (() => number) | undefined) ?? Date.now;
  }

  /** Number of keys held. */
  get size(): number {
    return this.entries.size;
  }

  /** The keys held now (for inspection; buckets that refilled may still be listed until swept). */
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  consume(key: string, buckets: readonly BucketSpec[], costs: readonly number[]): StoreResult {
    const now = this.now();
    const entry = this.entries.get(key);
    const tokens = this.current(entry, buckets, now);
    for (let i = 0; i < buckets.length; i++) {
      if (!covers(tokens[i] as number, costs[i] as number)) {
        // A refused client is still a live one: it must not become the first to be evicted.
        if (entry !== undefined) this.touch(key, entry);
        return { allowed: false, tokens };
      }
    }
    for (let i = 0; i < buckets.length; i++) {
      tokens[i] = Math.min((buckets[i] as BucketSpec).capacity, (tokens[i] as number) - (costs[i] as number));
    }
    this.write(key, entry, buckets, tokens, now);
    return { allowed: true, tokens };
  }

  adjust(key: string, buckets: readonly BucketSpec[], deltas: readonly number[]): StoreResult {
    const now = this.now();
    const entry = this.entries.get(key);
    const tokens = this.current(entry, buckets, now);
    for (let i = 0; i < buckets.length; i++) {
      tokens[i] = Math.min((buckets[i] as BucketSpec).capacity, (tokens[i] as number) - (deltas[i] as number));
    }
    this.write(key, entry, buckets, tokens, now);
    return { allowed: true, tokens };
  }

  lower(key: string, buckets: readonly BucketSpec[], ceilings: readonly number[]): StoreResult {
    const now = this.now();
    const entry = this.entries.get(key);
    const tokens = this.current(entry, buckets, now);
    for (let i = 0; i < buckets.length; i++) tokens[i] = Math.min(tokens[i] as number, ceilings[i] as number);
    this.write(key, entry, buckets, tokens, now);
    return { allowed: true, tokens };
  }

  peek(key: string, buckets: readonly BucketSpec[]): StoreResult {
    return { allowed: true, tokens: this.current(this.entries.get(key), buckets, this.now()) };
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Drops every bucket that has refilled. Runs by itself every `sweepIntervalMs`. */
  sweep(now = this.now()): void {
    this.lastSweep = now;
    for (const [key, entry] of this.entries) {
      if (entry.fullAt <= now) this.entries.delete(key);
    }
    if (this.entries.size === 0) this.stopSweeping();
  }

  /** Stops the sweep timer; the store still works and sweeps when it runs out of room. */
  close(): void {
    this.stopSweeping();
  }

  private write(key: string, entry: Entry | undefined, buckets: readonly BucketSpec[], tokens: number[], now: number) {
    let fullAt = now;
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i] as BucketSpec;
      fullAt = Math.max(fullAt, now + msUntil(tokens[i] as number, b.capacity, b.capacity, b.ratePerMs));
    }
    if (entry === undefined) {
      if (fullAt <= now) return;
      this.makeRoom(now);
      this.entries.set(key, { since: now, fullAt, tokens: tokens.slice() });
      this.startSweeping();
      return;
    }
    this.entries.delete(key);
    if (fullAt <= now) return;
    // Reuse the entry: a decision on a known client allocates nothing here.
    entry.since = now;
    entry.fullAt = fullAt;
    for (let i = 0; i < tokens.length; i++) entry.tokens[i] = tokens[i] as number;
    this.entries.set(key, entry);
  }

  private current(entry: Entry | undefined, buckets: readonly BucketSpec[], now: number): number[] {
    const tokens = new Array<number>(buckets.length);
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i] as BucketSpec;
      const held = entry?.tokens[i];
      tokens[i] = held === undefined ? b.capacity : refill(held, (entry as Entry).since, now, b.capacity, b.ratePerMs);
    }
    return tokens;
  }

  private makeRoom(now: number): void {
    if (this.entries.size < this.maxKeys) return;
    // A full sweep is linear, so it runs at most once per second however hard the flood.
    if (now - this.lastSweep >= 1000) this.sweep(now);
    while (this.entries.size >= this.maxKeys) {
      const oldest = this.nextOldest();
      if (oldest === undefined) return;
      const [key, entry] = oldest;
      this.entries.delete(key);
      if (entry.fullAt > now) {
        this.evictions += 1;
        recordEvictions('memory');
      }
    }
  }

  /**
   * The least recently used entry. One iterator is kept across calls: a fresh one would walk
   * every slot that deletions left at the front of the Map, which makes a flood quadratic. It
   * stays correct because used entries are re-inserted at the end, ahead of it.
   */
  private nextOldest(): [string, Entry] | undefined {
    for (let attempt = 0; attempt < 2; attempt++) {
      this.cursor ??= this.entries.entries();
      const step = this.cursor.next();
      if (!step.done) return step.value;
      this.cursor = undefined;
    }
    return undefined;
  }

  private touch(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
  }

  private startSweeping(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.sweep(), this.sweepIntervalMs);
    this.timer.unref();
  }

  private stopSweeping(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
