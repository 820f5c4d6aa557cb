import { RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { encode } from '../helpers/stored-bucket.js';

/**
 * The limits of the script's rule for a server clock that stepped back (a stored time far ahead
 * is taken as now): it must hold only for the server's own clock, and for any step, not only a
 * small one.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe.skipIf(!redis.server)('the bucket script and clocks', () => {
  const client = new Redis(REDIS_URL);
  afterAll(() => client.quit());

  it("app servers' clocks an hour apart do not refill a bucket on every alternation (the step rule is for the server's clock only)", async () => {
    // Two app servers deciding by their own clocks (as when Redis forbids TIME in scripts),
    // one an hour behind the other, share a 2 per hour limiter.
    const base = Date.now();
    const ahead = new RedisStore({ client, denialCache: false, now: () => base + (Date.now() - base) });
    const behind = new RedisStore({ client, denialCache: false, now: () => base - HOUR + (Date.now() - base) });
    const prefix = uniquePrefix('skew');
    const limiters = [ahead, behind].map((store) => new RateLimiter({ max: 2, window: '1h', prefix, store }));
    let admitted = 0;
    for (let i = 0; i < 10; i++) {
      if ((await (limiters[i % 2] as RateLimiter).consume('client')).allowed) admitted += 1;
    }
    // Before: the server behind moved the bucket's time back an hour, and the one ahead refilled
    // an hour's worth (2 tokens) on every call: 10 of 10.
    expect(admitted).toBe(2);
  });

  it('a drained bucket stamped two days ahead (a long backward step of the server clock) keeps its balance', async () => {
    const store = new RedisStore({ client, denialCache: false });
    const limiter = new RateLimiter({ max: 1, window: '1m', prefix: uniquePrefix('longstep'), store });
    const [seconds] = await client.time();
    const since = Number(seconds) * 1000 + 2 * DAY;
    const spec = limiter.policies.map((p) => p.id).join(',');
    await client.set(limiter.keyFor('k'), encode({ expires: since + 60_000, since, tokens: [0], spec }));
    // Before: a time more than a day ahead was taken for a corrupt value and the bucket for full.
    const decision = await limiter.consume('k');
    expect(decision.allowed).toBe(false);
    expect(store.corruptBuckets).toBe(0);
    expect(decision.retryAfterMs).toBeGreaterThan(50_000);
    expect(decision.retryAfterMs).toBeLessThanOrEqual(61_000);
  });
});
