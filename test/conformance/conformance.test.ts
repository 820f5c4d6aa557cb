import { MemoryStore, type RedisClientLike, RedisStore, type Store } from '@tollgate/core';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, describe, it } from 'vitest';
import { clusterClient, REDIS_URL, RedisProcess, redis, uniquePrefix } from '../helpers/redis.js';
import { type ClientKind, clientKinds, keysOf } from '../redis/clients.js';
import { type AppSpec, handlerBody, adapters as listed, type Served } from './adapters.js';
import { issue16Scenarios } from './issue16-scenarios.js';
import { nestApp } from './nestjs-adapters.js';
import { type Context, outageScenarios, scenarios } from './scenarios.js';

/**
 * One scenario table, every adapter, every store, through real HTTP on loopback. The stores
 * run on a clock the scenario moves, so waiting out a Retry-After takes no real time.
 */
const opened: Served[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((app) => app.close()));
});

const client = redis.server ? new Redis(REDIS_URL) : undefined;
const cluster = redis.clusterNodes.length > 0 ? await clusterClient() : undefined;
/** The frameworks of frameworks.json, and NestJS's second platform: every scenario on both. */
const adapters = [...listed, { name: 'nestjs (platform-fastify)', serve: nestApp('fastify', handlerBody) }];

/** One client of each family (ioredis, node-redis, Valkey GLIDE; one Redis and the Cluster), for the whole file. */
const redisClients = new Map<ClientKind, RedisClientLike>();
for (const kind of clientKinds) if (kind.enabled) redisClients.set(kind, await kind.open());
afterAll(async () => {
  await client?.quit();
  await cluster?.quit();
  await Promise.all([...redisClients].map(([kind, c]) => kind.close(c)));
});

interface StoreKind {
  name: string;
  enabled: boolean;
  make(clock: { now: number }, prefix: string): { store: () => Store; keys: () => Promise<string[]> };
}

const storeKinds: StoreKind[] = [
  {
    name: 'memory',
    enabled: true,
    make(clock) {
      const made: MemoryStore[] = [];
      return {
        store: () => {
          const store = new MemoryStore({ now: () => clock.now });
          made.push(store);
          return store;
        },
        keys: async () => made.flatMap((s) => [...s.keys()]),
      };
    },
  },
  ...clientKinds.map((kind): StoreKind => {
    const admin = kind.cluster ? cluster : client;
    return {
      name: kind.cluster
        ? `Redis Cluster (${kind.family})`
        : kind.family === 'ioredis'
          ? 'redis'
          : `redis (${kind.family})`,
      enabled: kind.enabled,
      make(clock, prefix) {
        const c = redisClients.get(kind) as RedisClientLike;
        return {
          // The scenario's prefix keeps parallel runs apart; the clock makes Retry-After testable.
          store: () => prefixed(new RedisStore({ client: c, now: () => clock.now }), prefix),
          keys: () => keysOf(admin as Redis | Cluster, `${prefix}:*`),
        };
      },
    };
  }),
];

/** Every limiter of a scenario writes under its own prefix, so scenarios never share buckets. */
function prefixed(store: RedisStore, prefix: string): Store {
  return {
    consume: (key, buckets, costs) => store.consume(`${prefix}:${key}`, buckets, costs),
    adjust: (key, buckets, deltas) => store.adjust(`${prefix}:${key}`, buckets, deltas),
    lower: (key, buckets, ceilings) => store.lower(`${prefix}:${key}`, buckets, ceilings),
    peek: (key, buckets) => store.peek(`${prefix}:${key}`, buckets),
    reset: (key) => store.reset(`${prefix}:${key}`),
    isAvailable: () => store.isAvailable(),
  };
}

for (const kind of storeKinds) {
  describe.skipIf(!kind.enabled)(`conformance on the ${kind.name} store`, () => {
    for (const adapter of adapters) {
      describe(adapter.name, () => {
        for (const scenario of [...scenarios, ...issue16Scenarios]) {
          it(scenario.name, async () => {
            const clock = { now: 1_764_000_000_000 };
            const { store, keys } = kind.make(clock, uniquePrefix('conf'));
            const ctx: Context = {
              adapter,
              store,
              clock,
              storeKeys: keys,
              serve: async (spec: AppSpec) => {
                const served = await adapter.serve(spec);
                opened.push(served);
                return served;
              },
            };
            await scenario.run(ctx);
          });
        }
      });
    }
  });
}

/** Every client family on one Redis that dies mid-run: the same failMode outcomes for each. */
for (const kind of clientKinds.filter((k) => k.at !== undefined)) {
  const on = kind.family === 'ioredis' ? '' : ` (${kind.family})`;
  describe.skipIf(!redis.server || !redis.binary)(`conformance when Redis dies${on}`, () => {
    for (const adapter of adapters) {
      describe(adapter.name, () => {
        for (const scenario of outageScenarios) {
          it(scenario.name, async () => {
            const server = await RedisProcess.start();
            const own = await (kind.at as NonNullable<ClientKind['at']>)(server.url);
            try {
              await scenario.run({
                serve: async (spec) => {
                  const served = await adapter.serve(spec);
                  opened.push(served);
                  return served;
                },
                store: () => new RedisStore({ client: own }),
                killRedis: () => server.kill(),
              });
            } finally {
              await kind.close(own);
              await server.stop();
            }
          });
        }
      });
    }
  });
}
