import { MemoryStore, RateLimiter, type RedisClientLike, RedisQuotaSource, RedisStore } from '@tollgate/core';
import { afterAll, describe, expect, it } from 'vitest';
import { uniquePrefix } from '../helpers/redis.js';
import { adminFor, type ClientKind, clientKinds } from './clients.js';

/**
 * Issue 16 item 2 on every store: limits as functions of the request, a client's balance carried
 * over (capped) when its limit changes, and quotas set in Redis reaching every limiter on it.
 */
interface Plan {
  plan: 'free' | 'premium';
}

const kinds = clientKinds.filter((k) => k.family === 'ioredis' || k.family === 'node-redis');

async function admitted<R>(limiter: RateLimiter<R>, key: string, request: R, n: number): Promise<number> {
  let count = 0;
  for (let i = 0; i < n; i++) if ((await limiter.consume(key, 1, request)).allowed) count += 1;
  return count;
}

type StoreMaker = {
  name: string;
  enabled: boolean;
  make(): Promise<{ store: MemoryStore | RedisStore; done(): Promise<void> }>;
};

const makers: StoreMaker[] = [
  {
    name: 'memory',
    enabled: true,
    make: async () => {
      const store = new MemoryStore();
      return { store, done: async () => store.close() };
    },
  },
  ...kinds.map(
    (kind: ClientKind): StoreMaker => ({
      name: kind.name,
      enabled: kind.enabled,
      make: async () => {
        const client: RedisClientLike = await kind.open();
        const store = new RedisStore({ client });
        return {
          store,
          done: async () => {
            await store.close();
            await kind.close(client);
          },
        };
      },
    }),
  ),
];

describe.each(makers)('per-request limits on $name', (maker) => {
  it.skipIf(!maker.enabled)(
    'upgrade keeps the balance and refills at the new rate; downgrade caps it; flipping plans gives nothing',
    async () => {
      const { store, done } = await maker.make();
      try {
        const plan: Plan = { plan: 'free' };
        const limiter = new RateLimiter<Plan>({
          name: 'plans',
          prefix: uniquePrefix('plan'),
          max: (r) => (r.plan === 'premium' ? 100 : 10),
          window: '1h',
          store,
        });
        expect(await admitted(limiter, 'u', plan, 15)).toBe(10);
        plan.plan = 'premium';
        // The upgrade is no reset: the drained client has nothing more at once.
        expect((await limiter.consume('u', 1, plan)).allowed).toBe(false);
        const d = await limiter.consume('v', 1, plan);
        expect([d.allowed, d.limit, d.remaining]).toEqual([true, 100, 99]);
        for (let i = 0; i < 9; i++) await limiter.consume('v', 1, plan); // 90 left of 100
        plan.plan = 'free';
        expect((await limiter.peek('v', plan)).remaining).toBe(10);
        expect(await admitted(limiter, 'v', plan, 20)).toBe(10);
        plan.plan = 'premium';
        expect((await limiter.consume('v', 1, plan)).allowed).toBe(false);
      } finally {
        await done();
      }
    },
  );
});

describe.each(kinds.filter((k) => k.family === 'ioredis'))('quotas in Redis on $name', (kind) => {
  const opened: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const close of opened.splice(0)) await close();
  });

  it.skipIf(!kind.enabled)(
    'a quota set in Redis reaches two limiters (two stores, two clients) within cacheMs; deleting it restores the configured limit',
    async () => {
      const prefix = uniquePrefix('quota');
      const admin = await adminFor(kind);
      opened.push(async () => void admin.disconnect());
      const limiters: RateLimiter[] = [];
      for (let i = 0; i < 2; i++) {
        const client = await kind.open();
        const store = new RedisStore({ client });
        opened.push(async () => {
          await store.close();
          await kind.close(client);
        });
        limiters.push(
          new RateLimiter({
            name: 'api',
            prefix,
            max: 5,
            window: '1h',
            store,
            quotas: { source: new RedisQuotaSource({ store, prefix }), cacheMs: 200 },
          }),
        );
      }
      const [a, b] = limiters as [RateLimiter, RateLimiter];
      expect((await a.consume('acme')).limit).toBe(5);
      expect((await b.consume('acme')).limit).toBe(5);
      // As `npx tollgate quota set acme --max 50 --window 1h` writes it.
      const setAt = performance.now();
      await admin.hset(`${prefix}:quota:acme`, { max: '50', window: '3600000' });
      const seen = async (limiter: RateLimiter) => {
        for (;;) {
          if ((await limiter.consume('acme')).limit === 50) return performance.now() - setAt;
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      const [ta, tb] = await Promise.all([seen(a), seen(b)]);
      console.log(`quota change seen by two limiters after ${Math.round(ta)} and ${Math.round(tb)} ms (cacheMs 200)`);
      // Both share one bucket that carried over: 2 + 2 taken at 5, the rest of 50 remains.
      const now = await a.peek('acme');
      expect(now.limit).toBe(50);
      expect(now.remaining).toBeLessThan(50);
      await admin.del(`${prefix}:quota:acme`);
      await Promise.all(
        [a, b].map(async (limiter) => {
          for (;;) {
            if ((await limiter.peek('acme')).limit === 5) return;
            await new Promise((r) => setTimeout(r, 10));
          }
        }),
      );
    },
  );
});
