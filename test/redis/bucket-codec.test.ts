import { RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBuckets, encodeBuckets } from '../../packages/core/src/stores/bucket-codec.js';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';

/** The codec the CLI and the tests read buckets with agrees with the script that writes them. */
describe.skipIf(!redis.server)('the bucket codec and the Redis script', () => {
  const client = new Redis(REDIS_URL);
  afterAll(() => client.quit());

  async function serverMs(): Promise<number> {
    const [seconds, micros] = await client.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  it('decodes what the script writes, for one policy and for several', async () => {
    const store = new RedisStore({ client });
    for (const policies of [
      [{ max: 10, window: '1h' as const }],
      [
        { max: 5, window: '1h' as const, burst: 8 },
        { max: 100, window: '1d' as const },
      ],
    ]) {
      const limiter = new RateLimiter({ policies, prefix: uniquePrefix('codec'), store });
      const before = await serverMs();
      await limiter.consume('k', 3);
      const state = decodeBuckets((await client.getBuffer(limiter.keyFor('k'))) as Buffer);
      expect(state?.ids).toEqual(limiter.policies.map((p) => p.id));
      // A day's or an hour's refill in a few ms is far less than the 0.01 token allowed here.
      expect(state?.tokens.map((t, i) => (limiter.policies[i]?.capacity as number) - 3 - t)).toEqual(
        limiter.policies.map(() => expect.closeTo(0, 2)),
      );
      expect(state?.since).toBeGreaterThanOrEqual(before - 1);
      expect(state?.since).toBeLessThan(before + 5_000);
      expect(state?.expires).toBeGreaterThan(state?.since as number);
    }
  });

  it('writes what the script reads: a planted state decides the next request', async () => {
    const store = new RedisStore({ client });
    const limiter = new RateLimiter({
      policies: [
        { max: 10, window: '1h' },
        { max: 50, window: '1d' },
      ],
      prefix: uniquePrefix('codec'),
      store,
    });
    const now = await serverMs();
    const ids = limiter.policies.map((p) => p.id);
    await client.set(
      limiter.keyFor('k'),
      encodeBuckets({ expires: now + 3_600_000, since: now, tokens: [2, 40], ids }),
    );
    expect(await limiter.peek('k')).toMatchObject({ allowed: true, remaining: 2, limit: 10 });
    // The ids decide which tokens are whose: with the ids swapped, the daily bucket holds 2 and binds.
    await client.set(
      limiter.keyFor('k'),
      encodeBuckets({ expires: now + 3_600_000, since: now, tokens: [2, 7], ids: [...ids].reverse() }),
    );
    expect(await limiter.peek('k')).toMatchObject({ remaining: 2, limit: 50 });
    expect(store.corruptBuckets).toBe(0);
  });
});
