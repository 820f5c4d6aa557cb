import { type BucketSpec, MemoryStore, RedisStore, type Store } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';

/**
 * Store.adjust and Store.lower, which settle Claude reservations and follow the server's
 * rate-limit headers: the same results in memory and in Redis.
 */

/** Three buckets that refill too slowly to matter within a test (one token a minute). */
const BUCKETS: BucketSpec[] = [
  { id: 'rpm', capacity: 10, ratePerMs: 1 / 60_000 },
  { id: 'itpm', capacity: 1_000, ratePerMs: 1 / 60_000 },
  { id: 'otpm', capacity: 500, ratePerMs: 1 / 60_000 },
];
const whole = (tokens: readonly number[]) => tokens.map((t) => Math.floor(t + 1e-6));

const client = redis.server ? new Redis(REDIS_URL) : undefined;
afterAll(() => client?.quit());

const stores: Array<[string, boolean, () => Store]> = [
  ['MemoryStore', true, () => new MemoryStore()],
  ['RedisStore', redis.server, () => new RedisStore({ client: client as Redis })],
];

describe.each(stores)('%s adjust/lower', (_name, available, make) => {
  describe.skipIf(!available)('settling', () => {
    const key = () => uniquePrefix('settle');

    it('adjust takes unconditionally, even below zero, and never gives beyond capacity', async () => {
      const store = make();
      const k = key();
      await store.consume(k, BUCKETS, [1, 600, 100]);
      const taken = await store.adjust?.(k, BUCKETS, [0, 900, 0]);
      expect(whole(taken?.tokens ?? [])).toEqual([9, -500, 400]);
      const refunded = await store.adjust?.(k, BUCKETS, [0, -5_000, -5_000]);
      expect(whole(refunded?.tokens ?? [])).toEqual([9, 1_000, 500]);
    });

    it('a bucket below zero refuses until it has refilled', async () => {
      const store = make();
      const k = key();
      await store.adjust?.(k, BUCKETS, [0, 1_200, 0]);
      expect((await store.consume(k, BUCKETS, [1, 1, 1])).allowed).toBe(false);
      expect(whole((await store.peek(k, BUCKETS)).tokens)).toEqual([10, -200, 500]);
    });

    it('lower caps each bucket and never raises one', async () => {
      const store = make();
      const k = key();
      await store.consume(k, BUCKETS, [4, 100, 100]);
      const lowered = await store.lower?.(k, BUCKETS, [3, 5_000, 400]);
      // rpm 6 → 3 (lowered); itpm 900 stays (5,000 is more); otpm 400 stays (equal).
      expect(whole(lowered?.tokens ?? [])).toEqual([3, 900, 400]);
      expect(whole((await store.peek(k, BUCKETS)).tokens)).toEqual([3, 900, 400]);
      const raised = await store.lower?.(k, BUCKETS, [10, 1_000, 500]);
      expect(whole(raised?.tokens ?? [])).toEqual([3, 900, 400]);
    });

    it('lower on a fresh key caps a full bucket', async () => {
      const store = make();
      const k = key();
      await store.lower?.(k, BUCKETS, [0, 1_000, 500]);
      expect((await store.consume(k, BUCKETS, [1, 0, 0])).allowed).toBe(false);
    });
  });
});
