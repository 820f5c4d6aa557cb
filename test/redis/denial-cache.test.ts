import { RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterClient, REDIS_URL, RedisProcess, redis, uniquePrefix } from '../helpers/redis.js';

/** A client whose script calls are counted as they are sent: each is one round trip. */
function counting(client: Redis): { client: Redis; scripts: () => number } {
  let scripts = 0;
  const proxy = new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (prop === 'evalsha' || prop === 'eval') {
        return (...args: unknown[]) => {
          scripts += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { client: proxy, scripts: () => scripts };
}

/** Polls `condition` (a few ms apart, a bounded number of times): Pub/Sub delivery is asynchronous. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
}

/** Consumes until the store answers the refusal from memory. */
async function untilCached(limiter: RateLimiter, store: RedisStore, key: string): Promise<void> {
  for (let i = 0; i < 400 && store.cachedRefusals === 0; i++) {
    expect((await limiter.consume(key)).allowed).toBe(false);
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(store.cachedRefusals).toBeGreaterThan(0);
}

describe.skipIf(!redis.server)('RedisStore denial cache', () => {
  const opened: { quit(): Promise<unknown> }[] = [];
  const open = () => {
    const client = new Redis(REDIS_URL);
    opened.push(client);
    return client;
  };
  afterAll(async () => {
    await Promise.all(opened.map((c) => c.quit()));
  });

  it('a flood from one refused client costs no round trips, and decisions still count down', async () => {
    const { client, scripts } = counting(open());
    const store = new RedisStore({ client });
    const limiter = new RateLimiter({ max: 5, window: '1h', prefix: uniquePrefix('flood'), store });
    for (let i = 0; i < 5; i++) expect((await limiter.consume('flooder')).allowed).toBe(true);
    await untilCached(limiter, store, 'flooder');
    const before = scripts();
    const flood = await Promise.all(Array.from({ length: 1000 }, () => limiter.consume('flooder')));
    expect(scripts() - before).toBe(0);
    expect(flood.every((d) => !d.allowed && d.source === 'store' && d.retryAfterMs > 0)).toBe(true);
    // Other clients still reach Redis.
    expect((await limiter.consume('someone-else')).allowed).toBe(true);
    expect(scripts() - before).toBe(1);
    await store.close();
  });

  it('a refusal of cost 5 does not refuse cost 1 while Redis would admit it', async () => {
    const store = new RedisStore({ client: open() });
    const limiter = new RateLimiter({ max: 10, window: '1h', prefix: uniquePrefix('cost'), store });
    expect((await limiter.consume('k', 7)).allowed).toBe(true);
    for (let i = 0; i < 400 && store.cachedRefusals === 0; i++) {
      expect((await limiter.consume('k', 5)).allowed).toBe(false);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(store.cachedRefusals).toBe(1);
    expect((await limiter.consume('k', 5)).allowed).toBe(false);
    const one = await limiter.consume('k', 1);
    expect(one).toMatchObject({ allowed: true, remaining: 2 });
    await store.close();
  });

  it("a reset from another process's store reaches the cache; so does a refund", async () => {
    const prefix = uniquePrefix('reset');
    const app = new RedisStore({ client: open() });
    const admin = new RedisStore({ client: open() });
    const limiter = new RateLimiter({ max: 2, window: '1h', prefix, name: 'login', store: app });
    const other = new RateLimiter({ max: 2, window: '1h', prefix, name: 'login', store: admin });
    await limiter.consume('ip');
    await limiter.consume('ip');
    await untilCached(limiter, app, 'ip');
    await other.reset('ip');
    await until(() => app.cachedRefusals === 0);
    expect(await limiter.consume('ip')).toMatchObject({ allowed: true, remaining: 1 });

    // A refund (a negative adjust, as the Claude limiter settles) also gives tokens back.
    await limiter.consume('ip');
    await untilCached(limiter, app, 'ip');
    await admin.adjust(limiter.keyFor('ip'), limiter.policies, [-1]);
    await until(() => app.cachedRefusals === 0);
    expect((await limiter.consume('ip')).allowed).toBe(true);
    await app.close();
    await admin.close();
  });

  it('stays bounded under a flood of distinct refused keys', async () => {
    const store = new RedisStore({ client: open(), denialCache: { maxKeys: 50 } });
    const limiter = new RateLimiter({ max: 1, window: '1h', prefix: uniquePrefix('bound'), store });
    await limiter.consume('first');
    await untilCached(limiter, store, 'first');
    for (let i = 0; i < 300; i++) {
      await limiter.consume(`k${i}`);
      await limiter.consume(`k${i}`);
    }
    expect(store.cachedRefusals).toBeLessThanOrEqual(50);
    expect(store.cachedRefusals).toBeGreaterThan(0);
    await store.close();
  });

  it('a reset in the same process is seen at once, even with a refusal of the key in flight', async () => {
    const store = new RedisStore({ client: open() });
    const limiter = new RateLimiter({ max: 1, window: '1h', prefix: uniquePrefix('own-reset'), store });
    await limiter.consume('warm');
    await untilCached(limiter, store, 'warm');
    for (let trial = 0; trial < 10; trial++) {
      const key = `k${trial}`;
      expect((await limiter.consume(key)).allowed).toBe(true);
      // Sent before the deletion, answered after it: it describes the bucket before the reset.
      const inFlight = limiter.consume(key);
      await limiter.reset(key);
      expect((await inFlight).allowed).toBe(false);
      expect((await limiter.consume(key)).allowed).toBe(true);
    }
  });

  it("close() removes its listener from the caller's client", async () => {
    const client = open();
    const before = client.listenerCount('end');
    const store = new RedisStore({ client });
    const limiter = new RateLimiter({ max: 1, window: '1h', prefix: uniquePrefix('listener'), store });
    await limiter.consume('k');
    await untilCached(limiter, store, 'k');
    expect(client.listenerCount('end')).toBe(before + 1);
    await store.close();
    expect(client.listenerCount('end')).toBe(before);
  });

  it('denialCache: false always asks Redis', async () => {
    const { client, scripts } = counting(open());
    const store = new RedisStore({ client, denialCache: false });
    const limiter = new RateLimiter({ max: 1, window: '1h', prefix: uniquePrefix('off'), store });
    for (let i = 0; i < 20; i++) await limiter.consume('k');
    expect(scripts()).toBe(20);
    expect(store.cachedRefusals).toBe(0);
  });

  it('opens one subscriber connection, and close() closes it even for a client the caller owns', async () => {
    const server = await RedisProcess.start();
    const client = new Redis(server.url);
    const admin = new Redis(server.url);
    try {
      const store = new RedisStore({ client });
      const limiter = new RateLimiter({ max: 1, window: '1h', prefix: uniquePrefix('sub'), store });
      await limiter.consume('a');
      await untilCached(limiter, store, 'a');
      for (const key of ['b', 'c', 'd']) {
        await limiter.consume(key);
        await limiter.consume(key);
      }
      const pubsub = async () =>
        ((await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string).trim().split('\n').filter(Boolean);
      expect(await pubsub()).toHaveLength(1);
      await store.close();
      let left = await pubsub();
      for (let i = 0; i < 400 && left.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 5));
        left = await pubsub();
      }
      expect(left).toHaveLength(0);
      // The caller's client is untouched.
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
      admin.disconnect();
      await server.stop();
    }
  });

  it('works on a Redis Cluster: a reset published on one node reaches a subscriber on another', async () => {
    if (redis.clusterNodes.length === 0) return;
    const prefix = uniquePrefix('cluster');
    const appClient = await clusterClient();
    const adminClient = await clusterClient();
    try {
      const app = new RedisStore({ client: appClient });
      const admin = new RedisStore({ client: adminClient });
      const limiter = new RateLimiter({ max: 1, window: '1h', prefix, name: 'c', store: app });
      await limiter.consume('k');
      await untilCached(limiter, app, 'k');
      await new RateLimiter({ max: 1, window: '1h', prefix, name: 'c', store: admin }).reset('k');
      await until(() => app.cachedRefusals === 0);
      expect((await limiter.consume('k')).allowed).toBe(true);
      await app.close();
      await admin.close();
    } finally {
      appClient.disconnect();
      adminClient.disconnect();
    }
  });
});
