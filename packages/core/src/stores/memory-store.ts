import { InvalidOptionError } from '../errors.js';
import { covers, EPSILON, msUntil, refill } from '../limiter/bucket.js';
import { assertKnownOptions, assertOptionsObject, positiveInteger, timerMs } from '../options/validate.js';
import { cachedClock } from './cached-clock.js';
import { countEviction } from './eviction-count.js';
import { monotonicClock } from './monotonic-clock.js';
import type { BucketSpec, Store, StoreResult } from './store.js';

/** The options of `new MemoryStore()`; all are optional. */
export interface MemoryStoreOptions {
  /**
   * Most keys held at once (default 1,000,000; at most 2^25). Full buckets are dropped first; see
   * `evictions`.
   */
  maxKeys?: number;
  /**
   * How often idle, refilled buckets are swept away (default `60000` ms): a timer, so a whole
   * number from 1 to 2^31-1 (Node would run a longer one every millisecond).
   */
  sweepIntervalMs?: number;
  /**
   * The clock, in milliseconds (default: the process's monotonic clock, which setting the system
   * clock does not move). Tests inject one. It must read finite numbers (a decision that reads
   * another value throws an `InvalidOptionError`) and must not go backwards: a bucket does not
   * refill until the clock is back at the last time it was written.
   */
  now?: () => number;
  /**
   * Read the clock at most once per this many milliseconds, a whole number from 1 to 1000
   * (default: read it on every decision). On a hot key a read is about half a decision's cost. A
   * reading answers the decisions of the next `clockResolutionMs` and at most 64 in a row, so
   * the error is bounded while the event loop is held too. Its only effect: a bucket's balance is
   * at most `clockResolutionMs` of refill from the exact clock's, either way (refills are counted
   * up to that late; a debit of a full bucket is dated up to that early). It does not add up.
   */
  clockResolutionMs?: number;
}

const KNOWN = new Set(['maxKeys', 'sweepIntervalMs', 'now', 'clockResolutionMs']);
/** A coarser clock than a second would hold refills back by more than a typical window's grain. */
const MAX_CLOCK_RESOLUTION_MS = 1000;

// A key's state is a record in a pool of chunks, one pool per bucket count:
// [since, fullAt, tokens0, tokens1, …]. Chunks are plain arrays of unboxed doubles rather than
// Float64Arrays: those live outside the V8 heap, where heap measurements (and V8's own limits)
// would not see them. The namespace Maps hold, per key, a small integer
// `slot << POOL_BITS | pool id`, which V8 stores inline (a Smi): no object per key at all.
const SINCE = 0;
const FULL_AT = 1;
const TOKENS = 2;
const POOL_BITS = 5;
const MAX_POOLS = 1 << POOL_BITS;
/**
 * Buckets one key holds at most: one pool per count, so pool ids never run out, and as many as a
 * RateLimiter has policies. Unbounded, a pool's first chunk of 64 records of a million buckets
 * took 10 s and 1.8 GB; four million ended the process.
 */
const MAX_BUCKETS = MAX_POOLS;
const POOL_MASK = MAX_POOLS - 1;
// Chunks of a fixed size waste at most one chunk when the store grows, and growing never copies
// what is already held; only the first chunk starts small (most stores hold a few keys) and doubles.
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;
const FIRST_CHUNK = 64;
// A reference must stay a Smi even where V8 compresses pointers (31-bit Smis).
const MAX_SLOTS = 1 << (30 - POOL_BITS);
// Per-slot flags: USED is the second-chance bit of the eviction clock; HELD marks a slot in use.
const USED = 1;
const HELD = 2;
/** Past 2^52 ms a double no longer resolves a millisecond (msUntil handles those waits). */
const UNRESOLVED_MS = 2 ** 52;
/** A full sweep is linear, so while the store is full it runs at most this often. */
const SWEEP_WHEN_FULL_MS = 1000;

/**
 * A chunk of `length` doubles starting with `from`. NaN, not 0, fills it, so the array holds
 * doubles from the start and never changes its elements kind; the copy drops the spare
 * capacity that pushing leaves.
 */
function records(length: number, from: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < length; i++) out.push(i < from.length ? (from[i] as number) : Number.NaN);
  return out.slice();
}

/** The records of every key with `n` buckets. */
class Pool {
  readonly id: number;
  readonly n: number;
  readonly stride: number;
  chunks: number[][] = [];
  flags: Uint8Array[] = [];
  /** Slots handed out so far: each slot below is held or on the free list. */
  top = 0;
  live = 0;
  /** First free slot below `top`, or -1; each free slot holds the next one in its `since` field. */
  free = -1;

  constructor(id: number, n: number) {
    this.id = id;
    this.n = n;
    this.stride = TOKENS + n;
  }

  alloc(): number {
    let slot = this.free;
    if (slot >= 0) {
      this.free = this.data(slot)[this.at(slot) + SINCE] as number;
    } else {
      slot = this.top;
      this.top += 1;
      this.ensure(slot);
    }
    this.live += 1;
    (this.flags[slot >>> CHUNK_BITS] as Uint8Array)[slot & CHUNK_MASK] = HELD;
    return slot;
  }

  release(slot: number): void {
    this.data(slot)[this.at(slot) + SINCE] = this.free;
    (this.flags[slot >>> CHUNK_BITS] as Uint8Array)[slot & CHUNK_MASK] = 0;
    this.free = slot;
    this.live -= 1;
  }

  data(slot: number): number[] {
    return this.chunks[slot >>> CHUNK_BITS] as number[];
  }

  at(slot: number): number {
    return (slot & CHUNK_MASK) * this.stride;
  }

  flagsOf(slot: number): number {
    return (this.flags[slot >>> CHUNK_BITS] as Uint8Array)[slot & CHUNK_MASK] as number;
  }

  setFlags(slot: number, value: number): void {
    (this.flags[slot >>> CHUNK_BITS] as Uint8Array)[slot & CHUNK_MASK] = value;
  }

  /** Moves a held record to the free slot `to`, off the free list (compaction rebuilds it). */
  move(from: number, to: number): void {
    const source = this.data(from);
    const target = this.data(to);
    const a = this.at(from);
    const b = this.at(to);
    for (let i = 0; i < this.stride; i++) target[b + i] = source[a + i] as number;
    this.setFlags(to, this.flagsOf(from));
  }

  /** Keeps slots below `top` only; every one of them must be held. */
  truncate(top: number): void {
    this.top = top;
    this.free = -1;
    const chunks = Math.ceil(top / CHUNK);
    this.chunks.length = chunks;
    this.flags.length = chunks;
    if (chunks === 1) {
      let slots = FIRST_CHUNK;
      while (slots < top) slots *= 2;
      const flags = this.flags[0] as Uint8Array;
      if (slots < flags.length) {
        this.chunks[0] = (this.chunks[0] as number[]).slice(0, slots * this.stride);
        this.flags[0] = flags.slice(0, slots);
      }
    }
  }

  private ensure(slot: number): void {
    const c = slot >>> CHUNK_BITS;
    if (c === this.chunks.length) {
      const slots = c === 0 ? FIRST_CHUNK : CHUNK;
      this.chunks.push(records(slots * this.stride, []));
      this.flags.push(new Uint8Array(slots));
      return;
    }
    const flags = this.flags[c] as Uint8Array;
    if ((slot & CHUNK_MASK) < flags.length) return;
    const slots = Math.min(CHUNK, 2 * flags.length);
    const data = records(slots * this.stride, this.chunks[c] as number[]);
    const grown = new Uint8Array(slots);
    grown.set(flags);
    this.chunks[c] = data;
    this.flags[c] = grown;
  }
}

/**
 * An injected clock, checked at every reading: a bucket stamped with a NaN time never refills
 * (a client refused for good), and one stamped with Infinity is never swept.
 */
function checked(clock: () => number): () => number {
  return () => {
    const now = clock();
    if (!Number.isFinite(now)) {
      throw new InvalidOptionError('now', now, 'accepted: a function returning a finite number of milliseconds');
    }
    return now;
  };
}

/** A view of a `MemoryStore` under a key prefix (see `MemoryStore.scope`); it answers at once. */
export interface MemoryStoreScope extends Store {
  consume(key: string, buckets: readonly BucketSpec[], costs: readonly number[]): StoreResult;
  adjust(key: string, buckets: readonly BucketSpec[], deltas: readonly number[]): StoreResult;
  lower(key: string, buckets: readonly BucketSpec[], ceilings: readonly number[]): StoreResult;
  peek(key: string, buckets: readonly BucketSpec[]): StoreResult;
  reset(key: string): void;
}

/** A namespace: keys stored without their common prefix. */
interface Space {
  readonly prefix: string;
  readonly map: Map<string, number>;
  /** Spaces whose prefix extends this one's, with the part that extends it: their keys live there. */
  readonly nested: { space: Space; suffix: string }[];
  /** The eviction clock's hand in this Map; it survives across evictions (see `evictOne`). */
  hand: MapIterator<[string, number]> | undefined;
  /** Entries the hand still visits in this space before it moves on to the next one. */
  left: number;
}

function newSpace(prefix: string, map: Map<string, number>): Space {
  return { prefix, map, nested: [], hand: undefined, left: 0 };
}

/**
 * The default store: buckets in this process's memory, bounded by `maxKeys`. A bucket that has
 * refilled is the same as no bucket, so those are dropped first, by a sweep (at most once a second
 * while the store is full). Between sweeps a clock with a second chance makes room: a bucket used
 * (allowed or refused) since the hand last passed it is kept; the first one not used is dropped,
 * and if it was still live, that is counted in `evictions`.
 *
 * Time is the process's monotonic clock, not the wall clock: a step of the system clock, either
 * way, changes no bucket; buckets refill as real time passes.
 *
 * `scope(prefix)` gives a view whose keys are held without `prefix`, so a limiter's long prefix
 * is not stored once per client. A key is the same bucket whichever way it is reached:
 * `store.consume(prefix + key, …)` and `store.scope(prefix).consume(key, …)` share it.
 */
export class MemoryStore implements Store {
  readonly maxKeys: number;
  /** Live buckets dropped to make room: each one gave a client a fresh budget. */
  evictions = 0;
  /** Keys stored under no registered prefix, as given. */
  private readonly entries = new Map<string, number>();
  private readonly root: Space = newSpace('', this.entries);
  private readonly spaces: Space[] = [this.root];
  private readonly byPrefix = new Map<string, Space>();
  private readonly views = new Map<string, MemoryStoreScope>();
  private readonly pools: (Pool | undefined)[] = [];
  private readonly poolByCount = new Map<number, Pool>();
  private readonly limit: number;
  private readonly now: () => number;
  private readonly sweepIntervalMs: number;
  private count = 0;
  /** Index in `spaces` of the space the eviction hand is in. */
  private handAt = 0;
  private lastSweep = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(options?: MemoryStoreOptions) {
    const opts = assertOptionsObject(options, 'MemoryStore');
    assertKnownOptions(opts, KNOWN, 'MemoryStore');
    this.maxKeys = opts.maxKeys === undefined ? 1_000_000 : positiveInteger(opts.maxKeys, 'maxKeys');
    if (this.maxKeys > MAX_SLOTS) {
      throw new InvalidOptionError('maxKeys', opts.maxKeys, `accepted: a whole number from 1 to ${MAX_SLOTS}`);
    }
    this.limit = this.maxKeys;
    this.sweepIntervalMs =
      opts.sweepIntervalMs === undefined ? 60_000 : timerMs(opts.sweepIntervalMs, 'sweepIntervalMs');
    if (opts.now !== undefined && typeof opts.now !== 'function') {
      throw new InvalidOptionError('now', opts.now, 'accepted: a function returning milliseconds');
    }
    // Not Date.now: after a backward step of the system clock a refused client would wait until
    // the clock caught up again (an hour for an hour's step), told each time it was a token away;
    // after a forward step every bucket would be full at once.
    const clock = opts.now === undefined ? monotonicClock() : checked(opts.now as () => number);
    const resolution = opts.clockResolutionMs;
    if (resolution === undefined) {
      this.now = clock;
    } else {
      if (
        typeof resolution !== 'number' ||
        !Number.isInteger(resolution) ||
        resolution < 1 ||
        resolution > MAX_CLOCK_RESOLUTION_MS
      ) {
        throw new InvalidOptionError(
          'clockResolutionMs',
          resolution,
          `accepted: a whole number of milliseconds from 1 to ${MAX_CLOCK_RESOLUTION_MS}`,
        );
      }
      this.now = cachedClock(clock, resolution);
    }
  }

  /** Number of keys held, in every scope. */
  get size(): number {
    return this.count;
  }

  /** The keys held now, in full (prefix and key), for inspection; refilled ones may be listed until swept. */
  *keys(): IterableIterator<string> {
    for (const space of this.spaces) {
      for (const key of space.map.keys()) yield space.prefix + key;
    }
  }

  /**
   * A view of this store whose keys are `prefix + key`, held without the prefix. Views share
   * `maxKeys`, eviction and sweeping with the store and with each other; the same prefix always
   * gives the same view.
   */
  scope(prefix: string): MemoryStoreScope {
    if (typeof prefix !== 'string') throw new InvalidOptionError('prefix', prefix, 'accepted: a string');
    let view = this.views.get(prefix);
    if (view !== undefined) return view;
    const space = this.spaceFor(prefix);
    view = {
      consume: (key, buckets, costs) => this.consumeIn(space, key, buckets, costs),
      adjust: (key, buckets, deltas) => this.adjustIn(space, key, buckets, deltas),
      lower: (key, buckets, ceilings) => this.lowerIn(space, key, buckets, ceilings),
      peek: (key, buckets) => this.peekIn(space, key, buckets),
      reset: (key) => this.resetIn(space, key),
    };
    this.views.set(prefix, view);
    return view;
  }

  consume(key: string, buckets: readonly BucketSpec[], costs: readonly number[]): StoreResult {
    return this.consumeIn(this.root, key, buckets, costs);
  }

  adjust(key: string, buckets: readonly BucketSpec[], deltas: readonly number[]): StoreResult {
    return this.adjustIn(this.root, key, buckets, deltas);
  }

  lower(key: string, buckets: readonly BucketSpec[], ceilings: readonly number[]): StoreResult {
    return this.lowerIn(this.root, key, buckets, ceilings);
  }

  peek(key: string, buckets: readonly BucketSpec[]): StoreResult {
    return this.peekIn(this.root, key, buckets);
  }

  reset(key: string): void {
    this.resetIn(this.root, key);
  }

  /**
   * Drops every bucket that has refilled, and gives back the memory. Runs by itself every
   * `sweepIntervalMs`. It takes no time argument: times are on the store's own clock, and one from
   * another (`Date.now()`) would drop live buckets.
   */
  sweep(): void {
    this.sweepAt(this.now());
  }

  private sweepAt(now: number): void {
    this.lastSweep = now;
    for (const space of this.spaces) {
      // A hand keeps the Map's old table alive until it moves; a new one starts at the front.
      space.hand = undefined;
      for (const [key, ref] of space.map) {
        const pool = this.pools[ref & POOL_MASK] as Pool;
        const slot = ref >>> POOL_BITS;
        if ((pool.data(slot)[pool.at(slot) + FULL_AT] as number) <= now) {
          space.map.delete(key);
          this.drop(pool, slot);
        }
      }
    }
    const handSpace = this.spaces[this.handAt] as Space;
    handSpace.left = handSpace.map.size;
    this.compact();
    if (this.count === 0) this.stopSweeping();
  }

  /** Stops the sweep timer; the store still works and sweeps when it runs out of room. */
  close(): void {
    this.stopSweeping();
  }

  private consumeIn(space: Space, key: string, buckets: readonly BucketSpec[], costs: readonly number[]): StoreResult {
    if (space.nested.length !== 0) [space, key] = this.locate(space, key);
    const now = this.now();
    const ref = space.map.get(key);
    if (ref !== undefined && buckets.length === 1) {
      const pool = this.pools[ref & POOL_MASK] as Pool;
      if (pool.n === 1)
        return this.consumeOne(space, key, pool, ref >>> POOL_BITS, buckets[0] as BucketSpec, costs, now);
    }
    const tokens = this.current(ref, buckets, now);
    for (let i = 0; i < buckets.length; i++) {
      if (!covers(tokens[i] as number, costs[i] as number)) {
        // A refused client is still a live one: it must not become the first to be evicted.
        if (ref !== undefined) this.markUsed(ref);
        return { allowed: false, tokens };
      }
    }
    for (let i = 0; i < buckets.length; i++) {
      tokens[i] = Math.min((buckets[i] as BucketSpec).capacity, (tokens[i] as number) - (costs[i] as number));
    }
    this.write(space, key, ref, buckets, tokens, now);
    return { allowed: true, tokens };
  }

  /**
   * `consumeIn` for the common case, a known key with one bucket: the same arithmetic in the same
   * order, without the loops and with nothing allocated but the result.
   */
  private consumeOne(
    space: Space,
    key: string,
    pool: Pool,
    slot: number,
    bucket: BucketSpec,
    costs: readonly number[],
    now: number,
  ): StoreResult {
    const data = pool.data(slot);
    const at = pool.at(slot);
    const { capacity, ratePerMs } = bucket;
    const cost = costs[0] as number;
    const held = refill(data[at + TOKENS] as number, data[at + SINCE] as number, now, capacity, ratePerMs);
    if (!covers(held, cost)) {
      pool.setFlags(slot, HELD | USED);
      return { allowed: false, tokens: [held] };
    }
    const tokens = Math.min(capacity, held - cost);
    // Any moment by which the bucket is surely full will do (a later one only sweeps it later):
    // the closed form rounded up, checked once, saves msUntil's search for the least one. A
    // balance already full to within EPSILON is msUntil's (0: dropped now, as before).
    let untilFull = Math.ceil((capacity - tokens) / ratePerMs);
    if (
      !(
        tokens < capacity - EPSILON &&
        untilFull >= 1 &&
        untilFull < UNRESOLVED_MS &&
        covers(refill(tokens, 0, untilFull, capacity, ratePerMs), capacity)
      )
    ) {
      untilFull = msUntil(tokens, capacity, capacity, ratePerMs);
    }
    const fullAt = Math.max(now, now + untilFull);
    if (fullAt <= now) {
      space.map.delete(key);
      this.drop(pool, slot);
    } else {
      data[at + SINCE] = now;
      data[at + FULL_AT] = fullAt;
      data[at + TOKENS] = tokens;
      pool.setFlags(slot, HELD | USED);
    }
    return { allowed: true, tokens: [tokens] };
  }

  private adjustIn(space: Space, key: string, buckets: readonly BucketSpec[], deltas: readonly number[]): StoreResult {
    if (space.nested.length !== 0) [space, key] = this.locate(space, key);
    const now = this.now();
    const ref = space.map.get(key);
    const tokens = this.current(ref, buckets, now);
    for (let i = 0; i < buckets.length; i++) {
      tokens[i] = Math.min((buckets[i] as BucketSpec).capacity, (tokens[i] as number) - (deltas[i] as number));
    }
    this.write(space, key, ref, buckets, tokens, now);
    return { allowed: true, tokens };
  }

  private lowerIn(space: Space, key: string, buckets: readonly BucketSpec[], ceilings: readonly number[]): StoreResult {
    if (space.nested.length !== 0) [space, key] = this.locate(space, key);
    const now = this.now();
    const ref = space.map.get(key);
    const tokens = this.current(ref, buckets, now);
    for (let i = 0; i < buckets.length; i++) tokens[i] = Math.min(tokens[i] as number, ceilings[i] as number);
    this.write(space, key, ref, buckets, tokens, now);
    return { allowed: true, tokens };
  }

  private peekIn(space: Space, key: string, buckets: readonly BucketSpec[]): StoreResult {
    if (space.nested.length !== 0) [space, key] = this.locate(space, key);
    return { allowed: true, tokens: this.current(space.map.get(key), buckets, this.now()) };
  }

  private resetIn(space: Space, key: string): void {
    if (space.nested.length !== 0) [space, key] = this.locate(space, key);
    const ref = space.map.get(key);
    if (ref === undefined) return;
    space.map.delete(key);
    this.drop(this.pools[ref & POOL_MASK] as Pool, ref >>> POOL_BITS);
  }

  /** The tokens of each bucket at `now`; a bucket the record does not hold is full. */
  private current(ref: number | undefined, buckets: readonly BucketSpec[], now: number): number[] {
    const n = buckets.length;
    const tokens = new Array<number>(n);
    if (ref === undefined) {
      for (let i = 0; i < n; i++) tokens[i] = (buckets[i] as BucketSpec).capacity;
      return tokens;
    }
    const pool = this.pools[ref & POOL_MASK] as Pool;
    const slot = ref >>> POOL_BITS;
    const data = pool.data(slot);
    const at = pool.at(slot);
    const since = data[at + SINCE] as number;
    const held = pool.n;
    for (let i = 0; i < n; i++) {
      const b = buckets[i] as BucketSpec;
      tokens[i] = i < held ? refill(data[at + TOKENS + i] as number, since, now, b.capacity, b.ratePerMs) : b.capacity;
    }
    return tokens;
  }

  private write(
    space: Space,
    key: string,
    ref: number | undefined,
    buckets: readonly BucketSpec[],
    tokens: readonly number[],
    now: number,
  ): void {
    const n = buckets.length;
    let fullAt = now;
    for (let i = 0; i < n; i++) {
      const b = buckets[i] as BucketSpec;
      fullAt = Math.max(fullAt, now + msUntil(tokens[i] as number, b.capacity, b.capacity, b.ratePerMs));
    }
    let pool: Pool;
    let slot: number;
    if (ref === undefined) {
      // A full bucket is the same as none: nothing to hold.
      if (fullAt <= now) return;
      // The pool first: if it cannot be had, nothing was evicted for it.
      pool = this.poolFor(n);
      this.makeRoom(now);
      slot = pool.alloc();
      space.map.set(key, (slot << POOL_BITS) | pool.id);
      this.count += 1;
      this.startSweeping();
    } else {
      pool = this.pools[ref & POOL_MASK] as Pool;
      slot = ref >>> POOL_BITS;
      if (fullAt <= now) {
        space.map.delete(key);
        this.drop(pool, slot);
        return;
      }
      if (pool.n !== n) {
        // The key is now used with another number of buckets: its record moves to that pool. The
        // new slot is taken before the old one is freed, so a failure leaves the key as it was.
        const next = this.poolFor(n);
        const nextSlot = next.alloc();
        pool.release(slot);
        pool = next;
        slot = nextSlot;
        space.map.set(key, (slot << POOL_BITS) | pool.id);
      }
      pool.setFlags(slot, HELD | USED);
    }
    const data = pool.data(slot);
    const at = pool.at(slot);
    data[at + SINCE] = now;
    data[at + FULL_AT] = fullAt;
    for (let i = 0; i < n; i++) data[at + TOKENS + i] = tokens[i] as number;
  }

  private markUsed(ref: number): void {
    const pool = this.pools[ref & POOL_MASK] as Pool;
    const slot = ref >>> POOL_BITS;
    pool.setFlags(slot, HELD | USED);
  }

  /** Frees a slot whose key was just deleted from its Map. */
  private drop(pool: Pool, slot: number): void {
    pool.release(slot);
    this.count -= 1;
  }

  private poolFor(n: number): Pool {
    const known = this.poolByCount.get(n);
    if (known !== undefined) return known;
    if (n > MAX_BUCKETS) {
      throw new InvalidOptionError(
        'buckets',
        n,
        `a MemoryStore holds at most ${MAX_BUCKETS} buckets per key (a RateLimiter has at most ${MAX_BUCKETS} policies)`,
      );
    }
    // A pool per count from 1 to MAX_BUCKETS (a key with no bucket is never held): ids never run out.
    const pool = new Pool(this.pools.length, n);
    this.pools.push(pool);
    this.poolByCount.set(n, pool);
    return pool;
  }

  private makeRoom(now: number): void {
    if (this.count < this.limit) return;
    if (now - this.lastSweep >= SWEEP_WHEN_FULL_MS) this.sweepAt(now);
    while (this.count >= this.limit && this.evictOne(now));
  }

  /**
   * Drops one key: the first the hand finds refilled or not used since it last passed. A used
   * key gets a second chance: its bit is cleared and it moves to the back of its Map, so the hand
   * meets it again only after every other key. The hand is one iterator per Map, kept across
   * calls: a fresh one would walk every slot that deletions left at the front of the Map, which
   * makes a flood quadratic. It stays correct because moved keys are re-inserted ahead of it.
   */
  private evictOne(now: number): boolean {
    let emptyLaps = 0;
    for (;;) {
      const space = this.spaces[this.handAt] as Space;
      if (space.left > 0) {
        space.hand ??= space.map.entries();
        const step = space.hand.next();
        if (!step.done) {
          emptyLaps = 0;
          space.left -= 1;
          const [key, ref] = step.value;
          const pool = this.pools[ref & POOL_MASK] as Pool;
          const slot = ref >>> POOL_BITS;
          if ((pool.data(slot)[pool.at(slot) + FULL_AT] as number) <= now) {
            space.map.delete(key);
            this.drop(pool, slot);
            return true;
          }
          if ((pool.flagsOf(slot) & USED) !== 0) {
            pool.setFlags(slot, HELD);
            space.map.delete(key);
            space.map.set(key, ref);
            continue;
          }
          space.map.delete(key);
          this.drop(pool, slot);
          this.evictions += 1;
          countEviction();
          return true;
        }
        space.hand = undefined;
      }
      // This space's lap is over: the hand moves to the next space, for one lap of its keys.
      if (++emptyLaps > 2 * this.spaces.length) return false;
      this.handAt = (this.handAt + 1) % this.spaces.length;
      const next = this.spaces[this.handAt] as Space;
      next.left = next.map.size;
    }
  }

  /**
   * Gives back the memory of freed slots: a pool that holds nothing is emptied, and one that
   * holds at most half of its slots has its records moved to the lowest slots and is cut there.
   */
  private compact(): void {
    const shrinking: { pool: Pool; holes: number[]; next: number }[] = [];
    for (const pool of this.pools) {
      if (pool === undefined) continue;
      if (pool.live === 0) {
        pool.truncate(0);
      } else if (pool.top > FIRST_CHUNK && pool.live <= pool.top >>> 1) {
        const holes: number[] = [];
        for (let slot = 0; slot < pool.live; slot++) if ((pool.flagsOf(slot) & HELD) === 0) holes.push(slot);
        shrinking[pool.id] = { pool, holes, next: 0 };
      }
    }
    if (shrinking.length === 0) return;
    for (const space of this.spaces) {
      for (const [key, ref] of space.map) {
        const job = shrinking[ref & POOL_MASK];
        if (job === undefined) continue;
        const slot = ref >>> POOL_BITS;
        if (slot < job.pool.live) continue;
        const to = job.holes[job.next] as number;
        job.next += 1;
        job.pool.move(slot, to);
        space.map.set(key, (to << POOL_BITS) | job.pool.id);
      }
    }
    for (const job of shrinking) if (job !== undefined) job.pool.truncate(job.pool.live);
  }

  /** The space for `prefix`, made on first use; keys already held under it move in. */
  private spaceFor(prefix: string): Space {
    if (prefix === '') return this.root;
    const known = this.byPrefix.get(prefix);
    if (known !== undefined) return known;
    const space = newSpace(prefix, new Map());
    for (const other of this.spaces) {
      if (prefix.startsWith(other.prefix)) {
        const suffix = prefix.slice(other.prefix.length);
        other.nested.push({ space, suffix });
        // Every key lives in the space of the longest prefix it has, so the ones here that have
        // this prefix have no longer one: they belong to the new space.
        for (const [key, ref] of other.map) {
          if (!key.startsWith(suffix)) continue;
          other.map.delete(key);
          space.map.set(key.slice(suffix.length), ref);
        }
      } else if (other.prefix.startsWith(prefix)) {
        space.nested.push({ space: other, suffix: other.prefix.slice(prefix.length) });
      }
    }
    this.spaces.push(space);
    this.byPrefix.set(prefix, space);
    return space;
  }

  /** Where `key`, reached through `space`, is held: in the space of the longest prefix it has. */
  private locate(space: Space, key: string): [Space, string] {
    let found = space;
    let cut = 0;
    for (const { space: inner, suffix } of space.nested) {
      if (suffix.length > cut && key.startsWith(suffix)) {
        found = inner;
        cut = suffix.length;
      }
    }
    return [found, cut === 0 ? key : key.slice(cut)];
  }

  private startSweeping(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.sweepOnTimer(), this.sweepIntervalMs);
    this.timer.unref();
  }

  private sweepOnTimer(): void {
    let now: number;
    try {
      now = this.now();
    } catch {
      // An injected clock's bad reading (see \`checked\`): thrown from a timer it would end the
      // process; the decisions that read it report it, and the next tick sweeps.
      return;
    }
    this.sweepAt(now);
  }

  private stopSweeping(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
