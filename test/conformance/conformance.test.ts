import { MemoryStore, RedisStore, type Store } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, it } from 'vitest';
import { clusterClient, REDIS_URL, RedisProcess, redis, uniquePrefix } from '../helpers/redis.js';
import { type AppSpec, adapters, type Served } from './adapters.js';
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
afterAll(async () => {
  await client?.quit();
  await cluster?.quit();
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
  {
    name: 'redis',
    enabled: redis.server,
    make(clock, prefix) {
      return {
        // The scenario's prefix keeps parallel runs apart; the clock makes Retry-After testable.
        store: () => prefixed(new RedisStore({ client: client as Redis, now: () => clock.now }), prefix),
        keys: () => (client as Redis).keys(`${prefix}:*`),
      };
    },
  },
  {
    name: 'Redis Cluster',
    enabled: cluster !== undefined,
    make(clock, prefix) {
      const c = cluster as NonNullable<typeof cluster>;
      return {
        store: () => prefixed(new RedisStore({ client: c, now: () => clock.now }), prefix),
        keys: async () => {
          const keys = await Promise.all(c.nodes('master').map((node) => node.keys(`${prefix}:*`)));
          return keys.flat();
        },
      };
    },
  },
];

/** Every limiter of a scenario writes under its own prefix, so scenarios never share buckets. */
function prefixed(store: RedisStore, prefix: string): Store {
  return {
    consume: (key, buckets, costs) => store.consume(`${prefix}:${key}`, buckets, costs),
    peek: (key, buckets) => store.peek(`${prefix}:${key}`, buckets),
    reset: (key) => store.reset(`${prefix}:${key}`),
    isAvailable: () => store.isAvailable(),
  };
}

for (const kind of storeKinds) {
  describe.skipIf(!kind.enabled)(`conformance on the ${kind.name} store`, () => {
    for (const adapter of adapters) {
      describe(adapter.name, () => {
        for (const scenario of scenarios) {
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

describe.skipIf(!redis.server || !redis.binary)('conformance when Redis dies', () => {
  for (const adapter of adapters) {
    describe(adapter.name, () => {
      for (const scenario of outageScenarios) {
        it(scenario.name, async () => {
          const server = await RedisProcess.start();
          const own = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
          own.on('error', () => {});
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
            own.disconnect();
            await server.stop();
          }
        });
      }
    });
  }
});
