import { RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { ensureBuilt, runCli } from './run-cli.js';

beforeAll(() => ensureBuilt());

/**
 * Issue 16 items 7 and 2: `npx tollgate reset` ends a block (it is in the client's buckets), and
 * finds the keys of a limiter whose limits vary per request (`<prefix>:n:<name>:q:<client>`).
 */
describe.skipIf(!redis.server)('tollgate reset ends a block', () => {
  const client = new Redis(REDIS_URL);
  const store = new RedisStore({ client });
  afterAll(async () => {
    await store.close();
    client.disconnect();
  });

  async function blocked(limiter: RateLimiter<{ plan: string }>, key: string) {
    for (let i = 0; i < 4; i++) await limiter.consume(key, 1, { plan: 'free' });
    const d = await limiter.consume(key, 1, { plan: 'free' });
    expect(d.allowed).toBe(false);
    expect(d.retryAfterMs).toBeGreaterThan(3_000_000);
  }

  it.each([
    ['a limiter with fixed limits', false],
    ['a limiter whose max is a function of the request', true],
  ])('%s: reset --name clears the block in every process (the running store included)', async (_, perRequest) => {
    const prefix = uniquePrefix('cliblock');
    const limiter = new RateLimiter<{ plan: string }>({
      name: 'login',
      prefix,
      ...(perRequest ? { max: (r: { plan: string }) => (r.plan === 'free' ? 2 : 20) } : { max: 2 }),
      window: '1s',
      store,
      block: { after: 2, within: '10s', for: '1h' },
    });
    await blocked(limiter, '203.0.113.7');
    const status = await runCli([
      'status',
      '203.0.113.7',
      '--name',
      'login',
      '--prefix',
      prefix,
      '--redis-url',
      REDIS_URL,
    ]);
    if (perRequest) expect(status.stderr).toMatch(/limits vary per request.*reset works/);
    else expect(status.stdout).toMatch(/2-per-1s/);
    const reset = await runCli([
      'reset',
      '203.0.113.7',
      '--name',
      'login',
      '--prefix',
      prefix,
      '--redis-url',
      REDIS_URL,
      '--json',
    ]);
    expect({ code: reset.code, stderr: reset.stderr }).toEqual({ code: 0, stderr: '' });
    const out = JSON.parse(reset.stdout);
    expect(out).toMatchObject({
      reset: true,
      redisKey: `${prefix}:n:login:${perRequest ? 'q' : '2-1000-2'}:203.0.113.7`,
    });
    // The announcement reaches this process's denial cache: admitted again.
    for (let i = 0; i < 50; i++) {
      if ((await limiter.consume('203.0.113.7', 1, { plan: 'free' })).allowed) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('still refused after the CLI reset');
  });
});
