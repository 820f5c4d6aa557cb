import { describe, expect, it, vi } from 'vitest';
import type { DecisionSource } from '../limiter/decision.js';
import { RateLimiter } from '../limiter/rate-limiter.js';
import type { Logger } from '../log.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { Store } from '../stores/store.js';
import { defaultFailureLog } from './failure-log.js';
import {
  countDecisionsAs,
  decisionOutcome,
  MAX_LIMITER_LABELS,
  observeStoreLatency,
  type RateLimitOutcome,
  recordDecision,
} from './rate-limit-metrics.js';
import { register } from './registry.js';

const silent: Logger = { info() {}, warn() {}, error() {} };

const brokenStore: Store = {
  consume() {
    throw new Error('connection refused');
  },
  peek() {
    throw new Error('connection refused');
  },
  reset() {},
};

async function lines(name: string): Promise<string[]> {
  return (await register.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#'));
}

async function evictedSoFar(): Promise<number> {
  const line = (await lines('tollgate_ratelimit_evictions_total')).find((l) => l.includes('store="memory"'));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('decisionOutcome', () => {
  it.each([
    [true, 'store', 'allowed'],
    [false, 'store', 'limited'],
    [true, 'local', 'allowed'],
    [false, 'local', 'limited'],
    [true, 'open', 'allowed'],
    [false, 'closed', 'store_error'],
  ] as const)('allowed=%s from %s is %s', (allowed, source: DecisionSource, outcome: RateLimitOutcome) => {
    expect(decisionOutcome({ allowed, source })).toBe(outcome);
  });

  it.each([
    [true, 'store', 'allowed'],
    [false, 'store', 'shadow_limited'],
    [false, 'local', 'shadow_limited'],
    [false, 'closed', 'store_error'],
  ] as const)('in shadow mode, allowed=%s from %s is %s', (allowed, source: DecisionSource, outcome) => {
    expect(decisionOutcome({ allowed, source }, 'shadow')).toBe(outcome);
  });

  it('classifies real limiter decisions, with a working and a failing store', async () => {
    const limiter = new RateLimiter({ max: 1, window: '1m', name: 'api' });
    expect(decisionOutcome(await limiter.consume('client-a'))).toBe('allowed');
    expect(decisionOutcome(await limiter.consume('client-a'))).toBe('limited');
    for (const [failMode, outcomes] of [
      ['local', ['allowed', 'limited']],
      ['open', ['allowed', 'allowed']],
      ['closed', ['store_error', 'store_error']],
    ] as const) {
      const failing = new RateLimiter({ max: 1, window: '1m', store: brokenStore, failMode, logger: silent });
      const decisions = [await failing.consume('client-b'), await failing.consume('client-b')];
      expect(decisions.map((d) => decisionOutcome(d))).toEqual(outcomes);
      expect(decisions.map((d) => d.source)).toEqual([failMode, failMode]);
    }
  });
});

describe('rate-limit metrics', () => {
  it('counts decisions by limiter, outcome and source, and by nothing else', async () => {
    recordDecision('login', 'allowed');
    recordDecision('login', 'allowed');
    recordDecision('login', 'limited');
    recordDecision('search', 'allowed', 'local');
    recordDecision('search', 'limited', 'local');
    recordDecision('search', 'store_error', 'closed');
    const out = await lines('tollgate_ratelimit_decisions_total');
    expect(out).toContain('tollgate_ratelimit_decisions_total{limiter="login",outcome="allowed",source="store"} 2');
    expect(out).toContain('tollgate_ratelimit_decisions_total{limiter="login",outcome="limited",source="store"} 1');
    expect(out).toContain('tollgate_ratelimit_decisions_total{limiter="search",outcome="allowed",source="local"} 1');
    expect(out).toContain('tollgate_ratelimit_decisions_total{limiter="search",outcome="limited",source="local"} 1');
    expect(out).toContain(
      'tollgate_ratelimit_decisions_total{limiter="search",outcome="store_error",source="closed"} 1',
    );
    for (const line of out.filter(Boolean))
      expect(line).toMatch(
        /^tollgate_ratelimit_decisions_total\{limiter="[^"]*",outcome="(allowed|limited|shadow_limited|store_error)",source="(store|local|open|closed)"\} \d+$/,
      );
  });

  it("counts a shadow limiter's refusals as shadow_limited, from the limiter's own count", async () => {
    const limiter = new RateLimiter({ max: 1, window: '1m', name: 'shadow-count' });
    countDecisionsAs('shadow-count', 'shadow');
    for (let i = 0; i < 3; i++) await limiter.consume('client');
    const out = await lines('tollgate_ratelimit_decisions_total');
    expect(out).toContain(
      'tollgate_ratelimit_decisions_total{limiter="shadow-count",outcome="allowed",source="store"} 1',
    );
    expect(out).toContain(
      'tollgate_ratelimit_decisions_total{limiter="shadow-count",outcome="shadow_limited",source="store"} 2',
    );
    expect(out.some((l) => l.includes('limiter="shadow-count",outcome="limited"'))).toBe(false);
  });

  it('observes store latency in seconds per limiter', async () => {
    observeStoreLatency('latency-test', 0.0007);
    observeStoreLatency('latency-test', 0.2);
    const out = await lines('tollgate_ratelimit_store_duration_seconds');
    expect(out).toContain('tollgate_ratelimit_store_duration_seconds_bucket{le="0.0005",limiter="latency-test"} 0');
    expect(out).toContain('tollgate_ratelimit_store_duration_seconds_bucket{le="0.001",limiter="latency-test"} 1');
    expect(out).toContain('tollgate_ratelimit_store_duration_seconds_bucket{le="0.25",limiter="latency-test"} 2');
    expect(out).toContain('tollgate_ratelimit_store_duration_seconds_count{limiter="latency-test"} 2');
  });

  it("reads the memory stores' evictions when scraped, with no call from the store", async () => {
    new RateLimiter({ max: 1, window: '1m', name: 'evictions-test', logger: silent }); // the limiter's families
    const before = await evictedSoFar();
    const store = new MemoryStore({ maxKeys: 2 });
    const bucket = [{ id: '5-60000-5', capacity: 5, ratePerMs: 5 / 60_000 }];
    for (let i = 0; i < 7; i++) store.consume(`k${i}`, bucket, [1]); // 5 live buckets dropped for room
    expect(store.evictions).toBe(5);
    expect(await evictedSoFar()).toBe(before + 5);
    expect(await evictedSoFar()).toBe(before + 5); // a second scrape adds nothing
    store.close();
  });

  it('bounds the limiter label: names made per request end up as _OVERFLOW', async () => {
    for (let i = 0; i < MAX_LIMITER_LABELS + 50; i++) recordDecision(`per-request-${i}`, 'allowed');
    const out = (await lines('tollgate_ratelimit_decisions_total')).filter((l) => l.includes('outcome="allowed"'));
    expect(out.length).toBeLessThanOrEqual(MAX_LIMITER_LABELS + 1);
    expect(out.some((l) => l.includes('limiter="_OVERFLOW"'))).toBe(true);
  });

  it('never throws into the limiter', () => {
    const report = vi.spyOn(defaultFailureLog, 'report').mockImplementation(() => {});
    expect(() => recordDecision('x', 'bogus' as RateLimitOutcome)).not.toThrow();
    expect(() => recordDecision('x', 'allowed', 'bogus' as DecisionSource)).not.toThrow();
    expect(() => observeStoreLatency('x', Number.NaN)).not.toThrow();
    expect(report).toHaveBeenCalledTimes(3);
    report.mockRestore();
  });
});
