import { InvalidOptionError, RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';

// Two limiters with one name and different policies on one Redis store used to share a key: a
// lax limiter rewrote the strict one's bucket on each call (8 of 8 admitted where 2 were allowed).
describe.skipIf(!redis.server)('limiter names on a RedisStore', () => {
  const client = new Redis(REDIS_URL);
  afterAll(() => client.quit());

  it('refuses a second limiter with the same name and another policy', () => {
    const store = new RedisStore({ client });
    const prefix = uniquePrefix('names');
    new RateLimiter({ name: 'report', max: 2, window: '15m', prefix, store });
    expect(() => new RateLimiter({ name: 'report', max: 1000, window: '1m', prefix, store })).toThrow(
      InvalidOptionError,
    );
    expect(() => new RateLimiter({ name: 'report', max: 1000, window: '1m', prefix, store })).toThrow(
      /"report".*2-per-15m.*1000-per-1m/,
    );
  });

  it('accepts the same name and policy again, and both limiters share the limit', async () => {
    const store = new RedisStore({ client });
    const prefix = uniquePrefix('names');
    const a = new RateLimiter({ name: 'report', max: 2, window: '15m', prefix, store });
    const b = new RateLimiter({ name: 'report', max: 2, window: '15m', prefix, store });
    const admitted = [];
    for (let i = 0; i < 4; i++) admitted.push((await (i % 2 === 0 ? a : b).consume('client')).allowed);
    expect(admitted).toEqual([true, true, false, false]);
  });
});
