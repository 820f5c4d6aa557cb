import type { Histogram } from 'prom-client';
import type { RateLimitMode } from '../http/rate-limit-mode.js';
import type { Decision, DecisionSource } from '../limiter/decision.js';
import { evictionsSoFar } from '../stores/eviction-count.js';
import { BoundedValues } from './bounded-values.js';
import { STORE_BUCKETS } from './buckets.js';
import { defaultFailureLog } from './failure-log.js';
import { lazyFamily } from './registry.js';

/**
 * What a rate-limit decision did with the request, wherever it was made (see `DecisionSource`):
 * - `allowed`: admitted;
 * - `limited`: refused by a bucket (429), the store's or, during an outage, the local one;
 * - `shadow_limited`: a bucket would have refused it, but the limiter is in `mode: 'shadow'`
 *   and let it through;
 * - `store_error`: refused because the store failed and `failMode: 'closed'` answers 503.
 */
export type RateLimitOutcome = 'allowed' | 'limited' | 'shadow_limited' | 'store_error';

/** Every value of the `outcome` label of `tollgate_ratelimit_decisions_total`. */
export const RATE_LIMIT_OUTCOMES: readonly RateLimitOutcome[] = Object.freeze([
  'allowed',
  'limited',
  'shadow_limited',
  'store_error',
]);

/**
 * Every value of the `source` label of `tollgate_ratelimit_decisions_total`: who made the
 * decision, `decision.source`. `store` when the store answered; while it failed or its circuit
 * was open, the `failMode`: `local` (an in-process bucket), `open` (allow) or `closed` (refuse).
 */
export const RATE_LIMIT_SOURCES: readonly DecisionSource[] = Object.freeze(['store', 'local', 'open', 'closed']);

/**
 * Most distinct `limiter` label values. Limiter names come from configuration, so
 * this is only reached if names are made per request; those are counted as `_OVERFLOW`.
 */
export const MAX_LIMITER_LABELS = 100;

/** The decisions family: made when the first limiter gets its tally (see `lazyFamily`). */
const decisions = lazyFamily(
  ({ Counter }) =>
    new Counter<'limiter' | 'outcome' | 'source'>({
      name: 'tollgate_ratelimit_decisions_total',
      help: 'Rate limit decisions, by limiter, outcome (allowed, limited, shadow_limited, store_error) and source (store, local, open, closed).',
      labelNames: ['limiter', 'outcome', 'source'],
      registers: [],
      collect() {
        flushTallies();
      },
    }),
);

const storeDuration = lazyFamily(
  ({ Histogram }) =>
    new Histogram<'limiter'>({
      name: 'tollgate_ratelimit_store_duration_seconds',
      help: 'Duration of rate limit store calls, by limiter.',
      labelNames: ['limiter'],
      buckets: [...STORE_BUCKETS],
      registers: [],
    }),
);

/** Evictions already added to the counter, of `evictionsSoFar()`. */
let evictionsCounted = 0;

/**
 * Memory stores count evictions themselves (`stores/eviction-count.ts`); the counter takes what
 * is new when it is scraped. Made with a limiter's families: every limiter's default store, and
 * its `failMode: 'local'` fallback, is a memory store.
 */
const evictions = lazyFamily(
  ({ Counter }) =>
    new Counter<'store'>({
      name: 'tollgate_ratelimit_evictions_total',
      help: 'Live buckets dropped to keep a memory store under maxKeys; each one gave a client a fresh budget.',
      labelNames: ['store'],
      registers: [],
      collect() {
        const total = evictionsSoFar();
        if (total > evictionsCounted) this.inc({ store: 'memory' }, total - evictionsCounted);
        evictionsCounted = total;
      },
    }),
);

const limiterLabels = new BoundedValues(MAX_LIMITER_LABELS);
const tallies = new Map<string, DecisionTally>();
const latencyChildren = new Map<string, Histogram.Internal<'limiter'>>();

/**
 * What a limiter's decision did with the request; where it came from is `decision.source`. In
 * `mode: 'shadow'` a refusal by a bucket is `shadow_limited`: the request went on.
 */
export function decisionOutcome(
  decision: Pick<Decision, 'allowed' | 'source'>,
  mode: RateLimitMode = 'enforce',
): RateLimitOutcome {
  if (decision.allowed) return 'allowed';
  if (decision.source === 'closed') return 'store_error';
  return mode === 'shadow' ? 'shadow_limited' : 'limited';
}

const SERIES: ReadonlyArray<readonly [RateLimitOutcome, DecisionSource]> = RATE_LIMIT_OUTCOMES.flatMap((outcome) =>
  RATE_LIMIT_SOURCES.map((source) => [outcome, source] as const),
);
const OUTCOME_INDEX = indexOf(RATE_LIMIT_OUTCOMES);
const SOURCE_INDEX = indexOf(RATE_LIMIT_SOURCES);

function indexOf<T extends string>(values: readonly T[]): Readonly<Record<T, number>> {
  return Object.fromEntries(values.map((v, i) => [v, i])) as Record<T, number>;
}

/** Where the (outcome, source) pair is counted in a tally: every pair has a slot, so the labels stay bounded. */
function slot(outcome: RateLimitOutcome, source: DecisionSource): number {
  return OUTCOME_INDEX[outcome] * RATE_LIMIT_SOURCES.length + SOURCE_INDEX[source];
}

/**
 * One limiter label's decisions since the last scrape, one count per (outcome, source). A
 * decision is a plain increment here; the counter gets the sums when it is collected:
 * prom-client's labelled `inc` hashes the label set on every call, which cost more than the whole
 * decision on a memory store.
 */
export class DecisionTally {
  /** Counts since the last scrape, at `slot(outcome, source)`. */
  readonly counts: number[] = new Array<number>(SERIES.length).fill(0);
  /**
   * How this limiter label's decisions are counted: in `'shadow'` (see `countDecisionsAs`) a refusal
   * by a bucket is `shadow_limited`. The limiter counts each decision as it makes it, so the mode
   * lives here, with the count, rather than being corrected afterwards (a scrape in between would
   * have counted the refusal already).
   */
  mode: RateLimitMode = 'enforce';

  constructor(readonly limiter: string) {}

  /** Counts one decision under its outcome and its source. */
  count(decision: Pick<Decision, 'allowed' | 'source'>): void {
    (this.counts[slot(decisionOutcome(decision, this.mode), decision.source)] as number) += 1;
  }
}

/**
 * How the decisions of the limiter labelled `limiter` are counted from now on: in `'shadow'`,
 * its refusals by a bucket are `outcome="shadow_limited"`.
 */
export function countDecisionsAs(limiter: string, mode: RateLimitMode): void {
  decisionTally(limiter).mode = mode;
}

/**
 * The tally behind `tollgate_ratelimit_decisions_total{limiter}`, for a limiter to count into.
 * `limiter` is the limiter's name (or its policy id when unnamed), never a client key; past
 * `MAX_LIMITER_LABELS` distinct ones, they share the `_OVERFLOW` tally.
 */
export function decisionTally(limiter: string): DecisionTally {
  // A limiter exists: its families appear in the registry now, not at import.
  decisions();
  storeDuration();
  evictions();
  const label = limiterLabels.label(String(limiter));
  let tally = tallies.get(label);
  if (tally === undefined) {
    tally = new DecisionTally(label);
    tallies.set(label, tally);
  }
  return tally;
}

function flushTallies(): void {
  const counter = decisions();
  if (counter === undefined) return;
  for (const tally of tallies.values()) {
    const { counts, limiter } = tally;
    for (let i = 0; i < counts.length; i++) {
      const count = counts[i] as number;
      if (count === 0) continue;
      counts[i] = 0;
      const [outcome, source] = SERIES[i] as readonly [RateLimitOutcome, DecisionSource];
      counter.inc({ limiter, outcome, source }, count);
    }
  }
}

/**
 * Counts one decision in `tollgate_ratelimit_decisions_total{limiter, outcome, source}`: what it
 * did with the request, and who made it (default `'store'`). Never throws.
 */
export function recordDecision(limiter: string, outcome: RateLimitOutcome, source: DecisionSource = 'store'): void {
  try {
    if (!RATE_LIMIT_OUTCOMES.includes(outcome)) throw new TypeError(`unknown rate limit outcome ${String(outcome)}`);
    if (!RATE_LIMIT_SOURCES.includes(source)) throw new TypeError(`unknown rate limit source ${String(source)}`);
    (decisionTally(limiter).counts[slot(outcome, source)] as number) += 1;
  } catch (error) {
    defaultFailureLog.report('recordDecision', error);
  }
}

/**
 * Observes one store call's duration, in seconds, in
 * `tollgate_ratelimit_store_duration_seconds{limiter}`. Never throws.
 */
export function observeStoreLatency(limiter: string, seconds: number): void {
  try {
    const label = limiterLabels.label(String(limiter));
    let child = latencyChildren.get(label);
    if (child === undefined) {
      const family = storeDuration();
      if (family === undefined) return;
      child = family.labels(label);
      latencyChildren.set(label, child);
    }
    child.observe(seconds);
  } catch (error) {
    defaultFailureLog.report('observeStoreLatency', error);
  }
}
