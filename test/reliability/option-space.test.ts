import { type Decision, type Duration, MemoryStore, type PolicyOptions, RedisStore, type Store } from '@tollgate/core';
import { type HeaderMode, HttpRateLimiter, type Outcome, type RequestReader } from '@tollgate/core/adapter';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { HEADER_MODES } from '../../packages/core/src/http/headers.js';
import { createPolicy, MAX_FILL_MS, MAX_TOKENS, type Policy } from '../../packages/core/src/limiter/policy.js';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { parseRateLimitFields } from '../helpers/structured-fields.js';

// Issue 13, "Done means": over the option space the limiter accepts, a decision takes bounded
// time, every header of every mode parses with a Structured Field parser, Retry-After is a
// positive integer, and waiting retryAfterMs (or Retry-After) gets the request admitted, on the
// memory store and on Redis, both on a fake clock.

/** A decision that takes this long is a hang (one takes microseconds, or a round trip on Redis). */
const HANG_MS = 5_000;

interface Step {
  /** Share of the smallest capacity taken straight from the limiter first, to reach refusals. */
  drain: number;
  /** Milliseconds the clock moves then, before the request. */
  advance: number;
  /** On a refusal, wait `retryAfterMs`, or `Retry-After` seconds, then retry. */
  wait: 'retryAfterMs' | 'Retry-After';
}

interface Case {
  policies: PolicyOptions[];
  /** Cost per request as a share of the smallest capacity (1: all of it), or `'one'` token. */
  cost: number | 'one';
  mode: HeaderMode;
  steps: Step[];
}

const WINDOW_STRINGS: Duration[] = ['1ms', '250ms', '500ms', '1.5s', '30s', '1m', '1h', '1d'];

const tokens = fc.oneof(
  fc.integer({ min: 1, max: 20 }),
  fc.integer({ min: 1, max: MAX_TOKENS }),
  fc.constantFrom(1, 1_000_000, MAX_TOKENS),
);

const windows: fc.Arbitrary<Duration> = fc.oneof(
  fc.integer({ min: 1, max: 100_000 }),
  fc.integer({ min: 1, max: MAX_FILL_MS }),
  fc.constantFrom<Duration>(1, 7, 999, 1001, MAX_FILL_MS, ...WINDOW_STRINGS),
);

/** A policy createPolicy accepts: generated freely, then kept if it is within the bounds. */
const policy: fc.Arbitrary<PolicyOptions> = fc
  .oneof(
    fc.record({ max: tokens, window: windows }),
    fc.record({ max: tokens, window: windows, burst: tokens }),
    // The corners of the bounds.
    fc.constantFrom<PolicyOptions>(
      { max: 1, window: MAX_FILL_MS },
      { max: MAX_TOKENS, window: MAX_FILL_MS },
      { max: MAX_TOKENS, window: 1, burst: 1 },
      { max: 1, window: '1d', burst: 12_725 },
      { max: 10, window: '500ms' },
      { max: 1, window: 1, burst: MAX_TOKENS },
    ),
  )
  .filter(accepted);

function accepted(options: PolicyOptions): boolean {
  try {
    createPolicy(options);
    return true;
  } catch {
    return false;
  }
}

const cases: fc.Arbitrary<Case> = fc.record({
  policies: fc.uniqueArray(policy, {
    minLength: 1,
    maxLength: 3,
    selector: (p) => createPolicy(p).id,
  }),
  cost: fc.oneof(fc.constant<'one'>('one'), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
  mode: fc.constantFrom(...HEADER_MODES),
  steps: fc.array(
    fc.record({
      advance: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: MAX_FILL_MS })),
      drain: fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
      wait: fc.constantFrom<Step['wait']>('retryAfterMs', 'Retry-After'),
    }),
    { minLength: 1, maxLength: 8 },
  ),
});

type Req = { readonly id: number };
const reader: RequestReader<Req> = { ip: () => '127.0.0.1', header: () => undefined };

/** Runs one case on `store`, whose clock is `clock.now`; throws on the first broken promise. */
async function play(store: Store, clock: { now: number }, c: Case, prefix: string): Promise<number> {
  const policies = c.policies.map((p) => createPolicy(p));
  const minCapacity = Math.min(...policies.map((p) => p.capacity));
  const cost = c.cost === 'one' ? 1 : c.cost * minCapacity;
  const http = new HttpRateLimiter<Req>(
    {
      ...(c.policies.length === 1 ? (c.policies[0] as PolicyOptions) : { policies: c.policies }),
      store,
      prefix,
      key: () => 'k',
      cost,
      headers: c.mode,
      // The store must answer every call itself: a fallback would hide what it answered.
      timeoutMs: 10_000,
      circuit: false,
    },
    reader,
  );
  let refusals = 0;
  let request = 0;
  const decide = async (): Promise<Outcome> => {
    const started = performance.now();
    const outcome = await http.handle({ id: request++ });
    expect(performance.now() - started).toBeLessThan(HANG_MS);
    expect(outcome.decision?.source).toBe('store');
    // Every field of every mode, Retry-After included, parses as a client's parser would.
    const fields = parseRateLimitFields(outcome.headers);
    expect(outcome.headers.length).toBeGreaterThan(0);
    // draft-11's q per w seconds is each policy's real rate, exactly (item 9).
    const advertised = fields.find((f) => f.name === 'RateLimit-Policy' && c.mode === 'draft-11');
    advertised?.items.forEach(({ params }, i) => {
      const { max, windowMs } = policies[i] as Policy;
      const [q, w] = [params.get('q'), params.get('w')].map((n) => BigInt(n as number));
      expect((q as bigint) * BigInt(windowMs)).toBe(BigInt(max) * (w as bigint) * 1000n);
    });
    return outcome;
  };
  try {
    for (const step of c.steps) {
      if (step.drain > 0) await http.limiter.consume('k', step.drain * minCapacity);
      // Time passes between the last write and the request: the refused bucket refills from
      // its stored state, not from the balance the decision reported.
      clock.now += step.advance;
      const outcome = await decide();
      if (outcome.action === 'next') continue;
      refusals += 1;
      expect(outcome.status).toBe(429);
      const decision = outcome.decision as Decision;
      const retryAfter = Number(new Map(outcome.headers).get('Retry-After'));
      expect(Number.isSafeInteger(retryAfter) && retryAfter >= 1).toBe(true);
      expect(Number.isSafeInteger(decision.retryAfterMs) && decision.retryAfterMs >= 1).toBe(true);
      expect(retryAfter * 1000).toBeGreaterThanOrEqual(decision.retryAfterMs);
      clock.now += step.wait === 'retryAfterMs' ? decision.retryAfterMs : retryAfter * 1000;
      const retried = await decide();
      expect(retried.action, `after waiting ${step.wait}`).toBe('next');
    }
  } finally {
    await http.limiter.reset('k');
  }
  return refusals;
}

const START = 1_764_000_000_000;

describe('over the option space the limiter accepts (issue 13)', () => {
  it('MemoryStore: bounded decisions, parseable headers, and a wait as told admits', async () => {
    let refusals = 0;
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const clock = { now: START };
        refusals += await play(new MemoryStore({ now: () => clock.now }), clock, c, uniquePrefix('opt'));
      }),
      { numRuns: 400 },
    );
    // The cases must reach refusals, or the waits were never tried.
    expect(refusals).toBeGreaterThan(100);
  });

  describe.skipIf(!redis.server)('RedisStore', () => {
    const client = new Redis(REDIS_URL);
    afterAll(() => client.quit());

    it('bounded decisions, parseable headers, and a wait as told admits', async () => {
      let refusals = 0;
      await fc.assert(
        fc.asyncProperty(cases, async (c) => {
          const clock = { now: START };
          const store = new RedisStore({ client, now: () => clock.now });
          try {
            refusals += await play(store, clock, c, uniquePrefix('opt'));
          } finally {
            await store.close();
          }
        }),
        { numRuns: 150 },
      );
      expect(refusals).toBeGreaterThan(30);
    }, 240_000);
  });
});
