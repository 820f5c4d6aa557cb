import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisProcess, redis } from '../helpers/redis.js';

/**
 * Issue 12 item 11, store side: one ioredis client shared by many stores (or by limiters built in
 * a loop) carries a bounded number of listeners. Before, every store that cached a refusal put an
 * `end` listener on the client and opened a subscriber connection of its own: with 100 stores,
 * 100 `end` listeners, 100 connections and a MaxListenersExceededWarning.
 */
const STORES = 100;

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 5));
}

describe.skipIf(!redis.binary)('one client shared by 100 stores', () => {
  let server: RedisProcess;
  beforeAll(async () => {
    // A server of the test's own, so the subscriber count is this test's alone.
    server = await RedisProcess.start();
  });
  afterAll(() => server.stop());

  const subscribers = async (admin: Redis) => {
    const [, count] = (await admin.pubsub('NUMSUB', RedisStore.resetChannel)) as [string, number];
    return Number(count);
  };

  it('carries a bounded number of listeners and one subscriber connection, with no warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const client = new Redis(server.url);
    const admin = new Redis(server.url);
    try {
      const baseline = new Map(client.eventNames().map((e) => [e, client.listenerCount(e)]));
      const stores = Array.from({ length: STORES }, () => new RedisStore({ client }));
      // Each store takes the path that subscribes: a refusal it then answers from memory.
      for (const [i, store] of stores.entries()) {
        const limiter = new RateLimiter({ max: 1, window: '1h', prefix: `shared-${i}`, store });
        await limiter.consume('k');
        await until(async () => {
          await limiter.consume('k');
          return store.cachedRefusals > 0;
        });
        expect(store.cachedRefusals).toBe(1);
      }
      // And limiters built in a loop on one of them.
      for (let i = 0; i < STORES; i++) {
        await new RateLimiter({ max: 1, window: '1h', prefix: `loop-${i}`, store: stores[0] as RedisStore }).consume(
          'k',
        );
      }

      for (const event of client.eventNames()) {
        const added = client.listenerCount(event) - (baseline.get(event) ?? 0);
        expect(added, `listeners added for '${String(event)}'`).toBeLessThanOrEqual(2);
      }
      expect(await subscribers(admin)).toBe(1);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);

      // The last store to close closes the subscription and takes its listener away.
      for (const store of stores.slice(1)) await store.close();
      expect(await subscribers(admin)).toBe(1);
      await (stores[0] as RedisStore).close();
      await until(async () => (await subscribers(admin)) === 0);
      expect(await subscribers(admin)).toBe(0);
      for (const event of client.eventNames()) {
        expect(client.listenerCount(event), `listeners for '${String(event)}'`).toBe(baseline.get(event) ?? 0);
      }
    } finally {
      process.off('warning', onWarning);
      client.disconnect();
      admin.disconnect();
    }
  });

  it('a reset still reaches every store sharing the client', async () => {
    const client = new Redis(server.url);
    try {
      const a = new RedisStore({ client });
      const b = new RedisStore({ client });
      const la = new RateLimiter({ max: 1, window: '1h', name: 'login', prefix: 'reach', store: a });
      const lb = new RateLimiter({ max: 1, window: '1h', name: 'login', prefix: 'reach', store: b });
      await la.consume('k');
      for (const [limiter, store] of [
        [la, a],
        [lb, b],
      ] as const) {
        await until(async () => {
          await limiter.consume('k');
          return store.cachedRefusals > 0;
        });
      }
      expect([a.cachedRefusals, b.cachedRefusals]).toEqual([1, 1]);
      await la.reset('k');
      await until(() => b.cachedRefusals === 0);
      expect(b.cachedRefusals).toBe(0);
      expect((await lb.consume('k')).allowed).toBe(true);
      await a.close();
      await b.close();
    } finally {
      client.disconnect();
    }
  });

  it('a store dropped without close() is not kept alive by the shared subscription', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const client = new Redis(server.url);
    try {
      const keeper = new RedisStore({ client });
      // Driven directly, without a limiter (a limiter may be held elsewhere, by its metrics),
      // and in a function of its own, so no variable of this one still holds the dropped store.
      const buckets = [{ id: '1-3600000-1', capacity: 1, ratePerMs: 1 / 3_600_000 }];
      const refuseAndCache = async (store: RedisStore, key: string) => {
        await store.consume(key, buckets, [1]);
        await until(async () => {
          await store.consume(key, buckets, [1]);
          return store.cachedRefusals > 0;
        });
        expect(store.cachedRefusals).toBe(1);
      };
      const dropped = async () => {
        const store = new RedisStore({ client });
        await refuseAndCache(store, 'gc-dropped');
        return new WeakRef(store);
      };
      // The dropped store comes first: the shared subscription was opened by it.
      const refs = [await dropped()];
      await refuseAndCache(keeper, 'gc-kept');
      // A WeakRef's target is kept until the end of the job that created or dereferenced it:
      // collect in a job of its own, then look.
      let collected = false;
      for (let i = 0; i < 10 && !collected; i++) {
        await new Promise((r) => setTimeout(r, 10));
        gc();
        await new Promise((r) => setTimeout(r, 10));
        collected = refs[0]?.deref() === undefined;
      }
      expect(refs[0]?.deref()).toBeUndefined();
      expect(keeper.cachedRefusals).toBe(1);
      await keeper.close();
    } finally {
      client.disconnect();
    }
  });
});
