import { Counter, Histogram } from 'prom-client';
import type { Decision } from '../limiter/decision.js';
import { BoundedValues } from './bounded-values.js';
import { STORE_BUCKETS } from './buckets.js';
import { defaultFailureLog } from './failure-log.js';
import { addMetric } from './registry.js';

/**
 * How a rate-limit decision was made:
 * - `allowed` / `limited`: the store answered, and admitted or refused the request;
 * - `fallback`: the store failed or was known down, and `failMode` `'local'` or `'open'` decided;
 * - `store_error`: the store failed and `failMode: 'closed'` refused the request (503).
 */
export type RateLimitOutcome = 'allowed' | 'limited' | 'store_error' | 'fallback';

/** Every value of the `outcome` label of `tollgate_ratelimit_decisions_total`. */
export const RATE_LIMIT_OUTCOMES: readonly RateLimitOutcome[] = Object.freeze([
  'allowed',
  'limited',
  'store_error',
  'fallback',
]);

/**
 * Most distinct `limiter` (and `store`) label values. Limiter names come from configuration, so
 * this is only reached if names are made per request; those are counted as `_OVERFLOW`.
 */
export const MAX_LIMITER_LABELS = 100;

const decisions = new Counter<'limiter' | 'outcome'>({
  name: 'tollgate_ratelimit_decisions_total',
  help: 'Rate limit decisions, by limiter and outcome (allowed, limited, store_error, fallback).',
  labelNames: ['limiter', 'outcome'],
  registers: [],
  collect() {
    flushTallies();
  },
});
addMetric(decisions);

const storeDuration = new Histogram<'limiter'>({
  name: 'tollgate_ratelimit_store_duration_seconds',
  help: 'Duration of rate limit store calls, by limiter.',
  labelNames: ['limiter'],
  buckets: [...STORE_BUCKETS],
  registers: [],
});
addMetric(storeDuration);

const evictions = new Counter<'store'>({
  name: 'tollgate_ratelimit_evictions_total',
  help: 'Live buckets dropped to keep a memory store under maxKeys; each one gave a client a fresh budget.',
  labelNames: ['store'],
  registers: [],
});
addMetric(evictions);

const limiterLabels = new BoundedValues(MAX_LIMITER_LABELS);
const storeLabels = new BoundedValues(MAX_LIMITER_LABELS);
const tallies = new Map<string, DecisionTally>();
const latencyChildren = new Map<string, Histogram.Internal<'limiter'>>();
const evictionChildren = new Map<string, Counter.Internal>();

/** The outcome of a limiter's decision, from where it came from (`decision.source`). */
export function decisionOutcome(decision: Pick<Decision, 'allowed' | 'source'>): RateLimitOutcome {
  switch (decision.source) {
    case 'store':
      return decision.allowed ? 'allowed' : 'limited';
    case 'closed':
      return 'store_error';
    default:
      return 'fallback';
  }
}

/**
 * One limiter label's decisions since the last scrape. A decision is a plain increment here;
 * the counter gets the sums when it is collected: prom-client's labelled `inc` hashes the label
 * set on every call, which cost more than the whole decision on a memory store.
 */
export class DecisionTally implements Record<RateLimitOutcome, number> {
  allowed = 0;
  limited = 0;
  store_error = 0;
  fallback = 0;

  constructor(readonly limiter: string) {}
}

/**
 * The tally behind `tollgate_ratelimit_decisions_total{limiter}`, for a limiter to count into.
 * `limiter` is the limiter's name (or its policy id when unnamed), never a client key; past
 * `MAX_LIMITER_LABELS` distinct ones, they share the `_OVERFLOW` tally.
 */
export function decisionTally(limiter: string): DecisionTally {
  const label = limiterLabels.label(String(limiter));
  let tally = tallies.get(label);
  if (tally === undefined) {
    tally = new DecisionTally(label);
    tallies.set(label, tally);
  }
  return tally;
}

function flushTallies(): void {
  for (const tally of tallies.values()) {
    for (const outcome of RATE_LIMIT_OUTCOMES) {
      const count = tally[outcome];
      if (count === 0) continue;
      tally[outcome] = 0;
      decisions.inc({ limiter: tally.limiter, outcome }, count);
    }
  }
}

/** Counts one decision in `tollgate_ratelimit_decisions_total{limiter, outcome}`. Never throws. */
export function recordDecision(limiter: string, outcome: RateLimitOutcome): void {
  try {
    if (!RATE_LIMIT_OUTCOMES.includes(outcome)) throw new TypeError(`unknown rate limit outcome ${String(outcome)}`);
    decisionTally(limiter)[outcome] += 1;
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
      child = storeDuration.labels(label);
      latencyChildren.set(label, child);
    }
    child.observe(seconds);
  } catch (error) {
    defaultFailureLog.report('observeStoreLatency', error);
  }
}

/**
 * Counts forced evictions (live buckets dropped for room) in
 * `tollgate_ratelimit_evictions_total{store}`. `store` is a bounded name for the store, such as
 * `'memory'` or the owning limiter's name. Never throws.
 */
export function recordEvictions(store: string, count = 1): void {
  try {
    const label = storeLabels.label(String(store));
    let child = evictionChildren.get(label);
    if (child === undefined) {
      child = evictions.labels(label);
      evictionChildren.set(label, child);
    }
    child.inc(count);
  } catch (error) {
    defaultFailureLog.report('recordEvictions', error);
  }
}
