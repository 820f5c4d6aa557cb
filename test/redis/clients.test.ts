import {
  ErrorCodes,
  type Logger,
  RateLimiter,
  type RedisClientLike,
  RedisStore,
  type RedisStoreOptions,
} from '@tollgate/core';
import { ClaudeRateLimiter } from '@tollgate/llm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, RedisProcess, redis, uniquePrefix } from '../helpers/redis.js';
import { type ClientKind, clientKinds } from './clients.js';

/**
 * What each client family must do beyond answering like the memory store (store-equivalence)
 * and the adapters' behaviour (conformance): a reset reaches other stores' denial caches, the
 * EVAL fallback after a SCRIPT FLUSH, bounded calls on a hung Redis, and the reset subscription
 * on node-redis (whose losses clear the cache) or its absence on Valkey GLIDE.
 */
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 5));
}

function logger(): { lines: { level: string; message: string }[]; logger: Logger } {
  const lines: { level: string; message: string }[] = [];
  const at = (level: string) => (_fields: object, message: string) => lines.push({ level, message });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

/** Consumes until the store answers the refusal from memory (or `tries` refusals went to Redis). */
async function refuseUntilCached(limiter: RateLimiter, store: RedisStore, key: string, tries = 400): Promise<void> {
  for (let i = 0; i < tries && store.cachedRefusals === 0; i++) {
    expect((await limiter.consume(key)).allowed).toBe(false);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The client-neutral interface (exported from @tollgate/core once index.ts lists it). */
type RedisConnection = Exclude<NonNullable<RedisStoreOptions['client']>, RedisClientLike>;

const subscribing = (kind: ClientKind) => kind.family !== 'valkey-glide';

/** A test only where it applies (never a skipped one): the reset subscription differs by family. */
function itIf(applies: boolean, name: string, fn: () => Promise<void>): void {
  if (applies) it(name, fn);
}

for (const kind of clientKinds) {
  describe.skipIf(!kind.enabled)(`RedisStore on ${kind.name}`, () => {
    let client: RedisClientLike;
    let ioredisStore: RedisStore;
    let ioredis: RedisClientLike;
    beforeAll(async () => {
      client = await kind.open();
      // Another process's store, on ioredis (whose denial cache the other suites prove).
      ioredis = await (
        clientKinds.find((k) => k.family === 'ioredis' && k.cluster === kind.cluster) as ClientKind
      ).open();
      ioredisStore = new RedisStore({ client: ioredis });
    });
    afterAll(async () => {
      await ioredisStore.close();
      await kind.close(client);
      await (clientKinds.find((k) => k.family === 'ioredis') as ClientKind).close(ioredis);
    });

    itIf(subscribing(kind), "caches a refusal, and a reset from another process's store clears it", async () => {
      const prefix = uniquePrefix('cr');
      const store = new RedisStore({ client });
      const limiter = new RateLimiter({ max: 2, window: '1h', prefix, name: 'login', store });
      const other = new RateLimiter({ max: 2, window: '1h', prefix, name: 'login', store: ioredisStore });
      await limiter.consume('ip');
      await limiter.consume('ip');
      await refuseUntilCached(limiter, store, 'ip');
      expect(store.cachedRefusals).toBe(1);
      await other.reset('ip');
      await until(() => store.cachedRefusals === 0);
      expect(store.cachedRefusals).toBe(0);
      expect(await limiter.consume('ip')).toMatchObject({ allowed: true, remaining: 1 });
      await store.close();
    });

    itIf(subscribing(kind), "its own resets reach another process's denial cache", async () => {
      const prefix = uniquePrefix('cr2');
      const store = new RedisStore({ client });
      const mine = new RateLimiter({ max: 1, window: '1h', prefix, name: 'login', store });
      const theirs = new RateLimiter({ max: 1, window: '1h', prefix, name: 'login', store: ioredisStore });
      await theirs.consume('ip');
      await refuseUntilCached(theirs, ioredisStore, 'ip');
      expect(ioredisStore.cachedRefusals).toBeGreaterThan(0);
      await mine.reset('ip');
      await until(() => ioredisStore.cachedRefusals === 0);
      expect((await theirs.consume('ip')).allowed).toBe(true);
      await store.close();
    });

    itIf(
      !subscribing(kind),
      'keeps no denial cache, says so once, and its resets still reach other stores',
      async () => {
        const prefix = uniquePrefix('glide');
        const log = logger();
        const store = new RedisStore({ client, logger: log.logger });
        const second = new RedisStore({ client, logger: log.logger });
        const mine = new RateLimiter({ max: 1, window: '1h', prefix, name: 'login', store });
        const theirs = new RateLimiter({ max: 1, window: '1h', prefix, name: 'login', store: ioredisStore });
        await mine.consume('ip');
        for (let i = 0; i < 20; i++) expect((await mine.consume('ip')).allowed).toBe(false);
        await new RateLimiter({ max: 1, window: '1h', prefix, name: 'other', store: second }).consume('ip');
        await new RateLimiter({ max: 1, window: '1h', prefix, name: 'other', store: second }).consume('ip');
        expect(store.cachedRefusals).toBe(0);
        expect(log.lines.filter((l) => /no denial cache/.test(l.message))).toHaveLength(1);

        await refuseUntilCached(theirs, ioredisStore, 'ip');
        expect(ioredisStore.cachedRefusals).toBeGreaterThan(0);
        await mine.reset('ip');
        await until(() => ioredisStore.cachedRefusals === 0);
        expect((await theirs.consume('ip')).allowed).toBe(true);
        await store.close();
        await second.close();
      },
    );
  });
}

/** On a Redis of the test's own, which the test may flush, pause and kill. */
for (const kind of clientKinds.filter((k) => k.at !== undefined)) {
  describe.skipIf(!redis.binary)(`RedisStore on ${kind.name}, on a Redis of its own`, () => {
    let server: RedisProcess;
    let admin: Redis;
    beforeAll(async () => {
      server = await RedisProcess.start();
      admin = new Redis(server.url);
    });
    afterAll(async () => {
      admin.disconnect();
      await server.stop();
    });
    const open = () => (kind.at as NonNullable<ClientKind['at']>)(server.url);

    it('runs its script again by EVAL after the server forgot it (SCRIPT FLUSH), once', async () => {
      const client = await open();
      try {
        const store = new RedisStore({ client });
        const limiter = new RateLimiter({ max: 5, window: '1h', prefix: uniquePrefix('flush'), store });
        expect(await limiter.consume('k')).toMatchObject({ allowed: true, remaining: 4 });
        await admin.script('FLUSH');
        await admin.config('RESETSTAT');
        expect(await limiter.consume('k')).toMatchObject({ allowed: true, remaining: 3 });
        expect(await limiter.consume('k')).toMatchObject({ allowed: true, remaining: 2 });
        const stats = await admin.info('commandstats');
        // The first call after the flush: EVALSHA (NOSCRIPT), then EVAL; the next, EVALSHA alone.
        expect(stats).toMatch(/cmdstat_eval:calls=1,/);
        expect(stats).toMatch(/cmdstat_evalsha:calls=2,.*failed_calls=1/);
        await store.close();
      } finally {
        await kind.close(client);
      }
    });

    it('a hung Redis ends every call within timeoutMs, with STORE_TIMEOUT', async () => {
      const client = await open();
      const store = new RedisStore({ client, timeoutMs: 300 });
      const limiter = new RateLimiter({
        max: 5,
        window: '1h',
        prefix: uniquePrefix('hung'),
        store,
        failMode: 'closed',
      });
      try {
        await limiter.consume('k');
        server.pause();
        for (const call of [() => store.reset('k'), () => store.peek('k', limiter.policies)]) {
          const started = performance.now();
          await expect(call()).rejects.toMatchObject({ code: ErrorCodes.STORE_TIMEOUT });
          // Bounded, with generous slack for a busy machine.
          expect(performance.now() - started).toBeLessThan(300 + 2000);
        }
      } finally {
        server.resume();
        await store.close();
        await kind.close(client);
      }
    });

    itIf(
      subscribing(kind),
      'one subscriber connection; its loss clears the cache and the next refusal subscribes again; close() closes it',
      async () => {
        const subscribers = async () => {
          const [, count] = (await admin.pubsub('NUMSUB', RedisStore.resetChannel)) as [string, number];
          return Number(count);
        };
        const client = await open();
        const log = logger();
        const store = new RedisStore({ client, logger: log.logger });
        const limiter = new RateLimiter({ max: 1, window: '1h', prefix: uniquePrefix('sub'), store });
        try {
          await limiter.consume('k');
          await refuseUntilCached(limiter, store, 'k');
          expect(store.cachedRefusals).toBe(1);
          expect(await subscribers()).toBe(1);

          // The subscriber connection is killed (a network blip): what the cache knew may be stale.
          await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
          await until(() => store.cachedRefusals === 0);
          expect(store.cachedRefusals).toBe(0);
          // If the loss is logged, it is said as what it is: a lost connection, not an ACL to fix.
          for (const line of log.lines) expect(line.message).not.toMatch(/ACL|Pub\/Sub for resets failed/);
          await refuseUntilCached(limiter, store, 'k');
          expect(store.cachedRefusals).toBe(1);
          await until(async () => (await subscribers()) === 1);
          expect(await subscribers()).toBe(1);

          await store.close();
          await until(async () => (await subscribers()) === 0);
          expect(await subscribers()).toBe(0);
        } finally {
          await kind.close(client);
        }
      },
    );

    itIf(subscribing(kind), 'closing the client closes the reset subscriber it carried', async () => {
      const client = await open();
      const store = new RedisStore({ client });
      const limiter = new RateLimiter({ max: 1, window: '1h', prefix: uniquePrefix('end'), store });
      await limiter.consume('k');
      await refuseUntilCached(limiter, store, 'k');
      const [, before] = (await admin.pubsub('NUMSUB', RedisStore.resetChannel)) as [string, number];
      expect(Number(before)).toBe(1);
      await kind.close(client);
      await until(
        async () => Number(((await admin.pubsub('NUMSUB', RedisStore.resetChannel)) as [string, number])[1]) === 0,
      );
      const [, after] = (await admin.pubsub('NUMSUB', RedisStore.resetChannel)) as [string, number];
      expect(Number(after)).toBe(0);
    });
  });
}

describe.skipIf(!redis.server)('a client tollgate does not know', () => {
  it('is refused when the store is built, naming what is accepted', () => {
    expect(() => new RedisStore({ client: { query() {} } as never })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, message: expect.stringMatching(/node-redis.*GLIDE/) }),
    );
  });

  it('works through a RedisConnection written for it (docs/redis-clients.md), ledger included', async () => {
    // "Another client": here ioredis driven only through its raw `call`, as a client with no adapter would be.
    const raw = new Redis(REDIS_URL);
    const send = (args: string[]) => raw.call(args[0] as string, ...args.slice(1));
    const script = (command: string, body: string, keys: readonly string[], args: readonly string[]) =>
      send([command, body, String(keys.length), ...keys, ...args]);
    const connection: RedisConnection = {
      family: 'raw-calls',
      evalsha: (sha, keys, args) => script('EVALSHA', sha, keys, args),
      eval: (source, keys, args) => script('EVAL', source, keys, args),
      del: async (key) => Number(await send(['DEL', key])),
      hgetall: async (key) => {
        const flat = (await send(['HGETALL', key])) as string[];
        const hash: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
        return hash;
      },
      publish: async (channel, message) => {
        await send(['PUBLISH', channel, message]);
      },
      state: () => (raw.status === 'ready' || raw.status === 'connecting' ? 'ready' : 'down'),
      quit: async () => {
        await raw.quit();
      },
      disconnect: () => raw.disconnect(),
    };
    try {
      const log = logger();
      const store = new RedisStore({ client: connection, logger: log.logger });
      const prefix = uniquePrefix('own-conn');
      const limiter = new RateLimiter({ max: 2, window: '1h', prefix, store });
      expect((await limiter.consume('k')).allowed).toBe(true);
      expect((await limiter.consume('k')).allowed).toBe(true);
      expect((await limiter.consume('k')).allowed).toBe(false);
      await limiter.reset('k');
      expect(await limiter.consume('k')).toMatchObject({ allowed: true, remaining: 1 });
      // No subscriber() given: no denial cache, said once.
      expect(store.cachedRefusals).toBe(0);
      expect(log.lines.map((l) => l.message)).toEqual([expect.stringMatching(/no denial cache on a raw-calls client/)]);

      const claude = new ClaudeRateLimiter({ store, prefix, logger: log.logger });
      await claude.recordUsage('claude-sonnet-4-5', { input_tokens: 1_000, output_tokens: 100 });
      expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, costMicros: 4_500 });
    } finally {
      raw.disconnect();
    }
  });
});

/** Clusters set to read from replicas: the ledger must still read what it just wrote. */
const replicaReaders: { name: string; open(): Promise<{ client: RedisClientLike; close(): void }> }[] = [
  {
    name: 'a node-redis cluster with useReplicas',
    async open() {
      const { createCluster } = await import('redis');
      const cluster = createCluster({
        rootNodes: redis.clusterNodes.map((node) => ({ url: `redis://${node}` })),
        useReplicas: true,
      });
      cluster.on('error', () => {});
      await cluster.connect();
      return { client: cluster, close: () => cluster.destroy() };
    },
  },
  {
    name: "a GLIDE cluster with readFrom: 'preferReplica'",
    async open() {
      const { GlideClusterClient } = await import('@valkey/valkey-glide');
      const addresses = redis.clusterNodes.map((node) => {
        const [host, port] = node.split(':');
        return { host: host as string, port: Number(port) };
      });
      const cluster = await GlideClusterClient.createClient({ addresses, readFrom: 'preferReplica' });
      return { client: cluster, close: () => cluster.close() };
    },
  },
];

for (const reader of replicaReaders) {
  describe.skipIf(redis.clusterNodes.length === 0)(reader.name, () => {
    it('sends the usage ledger’s reads to the primaries, which hold the write just made', async () => {
      const { client, close } = await reader.open();
      const nodes = redis.clusterNodes.map((node) => new Redis(`redis://${node}`));
      const hgetallOnReplicas = async () => {
        let calls = 0;
        for (const node of nodes) {
          if (!/^role:slave/m.test(await node.info('replication'))) continue;
          calls += Number(/^cmdstat_hgetall:calls=(\d+)/m.exec(await node.info('commandstats'))?.[1] ?? 0);
        }
        return calls;
      };
      try {
        const claude = new ClaudeRateLimiter({
          redis: client,
          prefix: uniquePrefix('replica-read'),
          logger: logger().logger,
        });
        await claude.recordUsage('claude-sonnet-4-5', { input_tokens: 1_000, output_tokens: 100 });
        const before = await hgetallOnReplicas();
        // A month of days: 31 reads, none of them on a replica.
        expect(await claude.getUsageStats({ days: 31 })).toMatchObject({ calls: 1 });
        expect(await hgetallOnReplicas()).toBe(before);
      } finally {
        for (const node of nodes) node.disconnect();
        close();
      }
    });
  });
}
