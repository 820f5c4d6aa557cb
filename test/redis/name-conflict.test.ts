import { type Logger, RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';

/** A logger that keeps its warnings. */
function recorder(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    info() {},
    warn(_fields, message) {
      warnings.push(message);
    },
    error() {},
  };
}

/** Alternates calls between a strict and a lax limiter on one client key, 8 each. */
async function alternate(strict: RateLimiter, lax: RateLimiter) {
  const admitted = { strict: 0, lax: 0 };
  for (let i = 0; i < 8; i++) {
    if ((await strict.consume('client')).allowed) admitted.strict++;
    if ((await lax.consume('client')).allowed) admitted.lax++;
  }
  return admitted;
}

// Issue 13, item 1: two limiters with one name and different policies used to share a key, so a
// lax limiter rewrote the strict one's bucket on each call (8 of 8 admitted where 2 were allowed).
// A limiter's keys now carry its policies.
describe.skipIf(!redis.server)('limiter names on a RedisStore', () => {
  const client = new Redis(REDIS_URL);
  const prefixes: string[] = [];
  function prefix(): string {
    const p = uniquePrefix('names');
    prefixes.push(p);
    return p;
  }
  afterAll(async () => {
    for (const p of prefixes) {
      const keys = await client.keys(`${p}:*`);
      if (keys.length > 0) await client.del(...keys);
    }
    await client.quit();
  });

  it('builds a second limiter with the same name and another policy on one store, with one warning, and keeps their buckets apart', async () => {
    const store = new RedisStore({ client });
    const logger = recorder();
    const p = prefix();
    const strict = new RateLimiter({ name: 'report', max: 2, window: '15m', prefix: p, store, logger });
    const lax = new RateLimiter({ name: 'report', max: 1000, window: '1m', prefix: p, store, logger });
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toMatch(/"report".*1000-per-1m.*2-per-15m.*count separately/);
    expect(await alternate(strict, lax)).toEqual({ strict: 2, lax: 8 });
    expect((await client.keys(`${p}:*`)).sort()).toEqual([strict.keyFor('client'), lax.keyFor('client')].sort());
  });

  it('keeps them apart across processes (two stores on one Redis, as in a rolling deploy): strict admits 2 of 8', async () => {
    // Each pod has its own store and registry: nothing warns, and only the keys keep them apart.
    const logger = recorder();
    const p = prefix();
    const oldPod = new RedisStore({ client });
    const newPod = new RedisStore({ client });
    const strict = new RateLimiter({ name: 'login', max: 2, window: '15m', prefix: p, store: oldPod, logger });
    const lax = new RateLimiter({ name: 'login', max: 1000, window: '1m', prefix: p, store: newPod, logger });
    expect(await alternate(strict, lax)).toEqual({ strict: 2, lax: 8 });
    expect(logger.warnings).toEqual([]);
    expect(strict.label).toBe('login');
    expect(strict.keyFor('client')).toBe(`${p}:n:login:${strict.policies[0]?.id}:client`);
  });

  it('shares the limit between limiters with the same name and policy, on one store or two', async () => {
    const p = prefix();
    const logger = recorder();
    const store = new RedisStore({ client });
    const a = new RateLimiter({ name: 'report', max: 2, window: '15m', prefix: p, store, logger });
    const b = new RateLimiter({ name: 'report', max: 2, window: '15m', prefix: p, store, logger });
    const c = new RateLimiter({ name: 'report', max: 2, window: '15m', prefix: p, store: new RedisStore({ client }) });
    const admitted = [];
    for (const limiter of [a, b, c, a]) admitted.push((await limiter.consume('client')).allowed);
    expect(admitted).toEqual([true, true, false, false]);
    expect(logger.warnings).toEqual([]);
  });
});
