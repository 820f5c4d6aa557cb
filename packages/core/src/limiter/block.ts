import { type Duration, parseDuration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import { assertKnownOptions, assertOptionsObject, positiveInteger } from '../options/validate.js';
import type { BucketSpec } from '../stores/store.js';
import type { Decision } from './decision.js';
import { MAX_FILL_MS } from './policy.js';

/**
 * `block: { after, within, for }`: a client refused `after` times within `within` is refused for
 * `for` (as rate-limiter-flexible's `blockDuration` and @fastify/rate-limit's `ban`).
 */
export interface BlockOptions {
  /** Refusals that trigger a block: a whole number from 1 to 10,000. */
  after: number;
  /** Within how long those refusals must come (ms or `'30s'`, `'1m'`, …). */
  within: Duration;
  /** How long the client is then refused (ms or `'15m'`, …). */
  for: Duration;
}

const KNOWN = new Set(['after', 'within', 'for']);
const MAX_AFTER = 10_000;
/** Clients whose recent refusals are counted at once; the oldest are forgotten first. */
const MAX_TRACKED = 10_000;

/**
 * Counts each client's refusals in this process and says when one must be blocked. The block
 * itself is written to the store, in the client's buckets: every bucket is lowered to the level
 * from which it takes `for` to refill one token. So a block is shared by every instance on the
 * same Redis (their next decision finds the buckets empty for that long), answered from memory
 * after that (the store's denial cache, or the memory store itself), and cleared by anything that
 * clears the buckets: `reset(key)` and `npx tollgate reset`.
 */
export class Blocker {
  readonly after: number;
  readonly withinMs: number;
  readonly forMs: number;
  /** Per client: the times of its latest refusals (at most `after`). */
  private readonly refusals = new Map<string, number[]>();

  constructor(options: unknown) {
    const opts = assertOptionsObject(options, 'block');
    assertKnownOptions(opts, KNOWN, 'block');
    this.after = positiveInteger(opts.after, 'block.after');
    if (this.after > MAX_AFTER) {
      throw new InvalidOptionError('block.after', opts.after, `accepted: a whole number from 1 to ${MAX_AFTER}`);
    }
    this.withinMs = parseDuration(opts.within, 'block.within');
    this.forMs = parseDuration(opts.for, 'block.for');
    for (const [option, ms] of [
      ['block.within', this.withinMs],
      ['block.for', this.forMs],
    ] as const) {
      if (ms > MAX_FILL_MS) throw new InvalidOptionError(option, opts[option.slice(6)], 'accepted: at most 2^40 ms');
    }
  }

  /**
   * Records a refusal of `key` at `now`; true when it completes `after` within `within`: block
   * now. A refusal of a client already blocked (its buckets below empty) is not counted: a block
   * is not extended by the hammering it refuses.
   */
  refused(key: string, now: number, decision: Decision, cost: number): boolean {
    if (isBlocked(decision, cost, this.forMs)) return false;
    let times = this.refusals.get(key);
    if (times === undefined) {
      if (this.refusals.size >= MAX_TRACKED) {
        const oldest = this.refusals.keys().next();
        if (!oldest.done) this.refusals.delete(oldest.value);
      }
      times = [];
      this.refusals.set(key, times);
    }
    times.push(now);
    if (times.length > this.after) times.shift();
    if (times.length < this.after || now - (times[0] as number) > this.withinMs) return false;
    this.refusals.delete(key);
    return true;
  }

  /** The level of each bucket from which one token takes `for` to come back. */
  ceilings(buckets: readonly BucketSpec[]): number[] {
    return buckets.map((b) => Math.min(b.capacity, 1 - this.forMs * b.ratePerMs));
  }

  /** Forgets what this process counted or blocked for `key` (a reset). */
  clear(key: string): void {
    this.refusals.delete(key);
  }
}

/**
 * Whether a refusal finds the client blocked: it waits longer than `cost` tokens take to refill
 * from nothing by more than half a block. (Not by any margin: a Redis store's waits include its
 * clock's uncertainty, a round trip or so.)
 */
function isBlocked(decision: Decision, cost: number, forMs: number): boolean {
  return decision.policies.some((s) => s.retryAfterMs > Math.ceil(Math.max(cost, 1) / s.policy.ratePerMs) + forMs / 2);
}
