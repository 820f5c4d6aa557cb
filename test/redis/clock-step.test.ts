import { type PolicyOptions, RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { encode } from '../helpers/stored-bucket.js';

/**
 * Issue 13 item 6, Redis side: the server's clock steps back an hour. A bucket written before the
 * step carries a time an hour ahead of the server's clock; the script used to wait for the clock
 * to catch up (`now = since`), refusing a drained client for the whole hour. Now a stored time
 * further ahead than any clock estimate can be is taken as now: the client waits its bucket's
 * normal refill time. (The real clock cannot be stepped in a test: the bucket is planted with a
 * time an hour ahead, which is what a step back leaves behind.)
 */
const HOUR = 3_600_000;

describe.skipIf(!redis.server)('RedisStore after the server clock steps back', () => {
  const client = new Redis(REDIS_URL);
  afterAll(() => client.quit());

  const cases: [string, PolicyOptions[]][] = [
    ['one policy', [{ max: 10, window: '1s' }]],
    [
      'two policies',
      [
        { max: 10, window: '1s' },
        { max: 1000, window: '1h' },
      ],
    ],
  ];

  for (const [label, policies] of cases) {
    it(`${label}: a drained bucket stamped an hour ahead admits within its normal refill time`, async () => {
      const store = new RedisStore({ client, denialCache: false });
      const limiter = new RateLimiter({ policies, prefix: uniquePrefix('step'), store });
      const key = limiter.keyFor('k');
      const [seconds] = await client.time();
      const ahead = Number(seconds) * 1000 + HOUR;
      const spec = limiter.policies.map((p) => p.id).join(',');
      // The 10 per second bucket drained; the hourly one (if any) half full.
      const tokens = limiter.policies.map((p, i) => (i === 0 ? 0 : p.capacity / 2));
      await client.set(key, encode({ expires: ahead + 60_000, since: ahead, tokens, spec }));

      const started = performance.now();
      let decision = await limiter.consume('k');
      // The first of 10 per second is back after 100 ms; the whole bucket (all that may be
      // asked of a step) after 1 s. Polled for up to 5 s: before, it stayed refused for the hour.
      while (!decision.allowed && performance.now() - started < 5_000) {
        await new Promise((r) => setTimeout(r, Math.max(10, decision.retryAfterMs)));
        decision = await limiter.consume('k');
      }
      const waited = performance.now() - started;
      console.log(`${label}: bucket stamped 1 h ahead admitted after ${Math.round(waited)} ms`);
      expect(decision.allowed).toBe(true);
      expect(waited).toBeLessThan(1_000 + 2_000);
      // The key was rewritten with an expiry from the server's clock of now, not the stale one.
      const ttl = await client.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThan(HOUR);
    });
  }
});
