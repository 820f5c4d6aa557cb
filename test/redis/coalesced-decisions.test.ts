import {
  type BucketSpec,
  ErrorCodes,
  MemoryStore,
  type RedisClientLike,
  RedisStore,
  type StoreResult,
  TollgateError,
} from '@tollgate/core';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashSlot } from '../../packages/core/src/stores/hash-slot.js';
import { batcherOf, MAX_BATCH } from '../../packages/core/src/stores/redis-batch.js';
import { redisConnection } from '../../packages/core/src/stores/redis-clients/index.js';
import { BATCH_SCRIPT_SHA, BUCKET_SCRIPT_SHA } from '../../packages/core/src/stores/redis-script.js';
import { clusterClient, REDIS_URL, RedisProcess, redis, uniquePrefix } from '../helpers/redis.js';
import { type ClientKind, clientKinds } from './clients.js';

/**
 * Issue 18 item 1: consumes made in one turn of the event loop go to Redis as one script call
 * (BATCH_SCRIPT) per group of at most MAX_BATCH, per hash slot on a Cluster, and each decision
 * stays what it would have been alone: bit for bit what a MemoryStore answers to the same calls
 * made one at a time, in call order. A lone decision goes out at once as the one-decision script.
 */

const one: BucketSpec[] = [{ id: '5-60000-5', capacity: 5, ratePerMs: 5 / 60_000 }];
const two: BucketSpec[] = [
  { id: '3-1000-3', capacity: 3, ratePerMs: 3 / 1000 },
  { id: '10-60000-10', capacity: 10, ratePerMs: 10 / 60_000 },
];
const silent = { info() {}, warn() {}, error() {} };

interface Call {
  key: string;
  buckets: BucketSpec[];
  costs: number[];
}

/** A fixed, varied burst: a hot key, a few warm ones, many cold ones, one and two policies, costs 1 to 3. */
function burst(prefix: string, count: number, seed: number): Call[] {
  let state = seed;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const calls: Call[] = [];
  for (let i = 0; i < count; i++) {
    const r = next(10);
    const key = r < 3 ? `${prefix}:hot` : r < 6 ? `${prefix}:warm${next(4)}` : `${prefix}:cold${i}`;
    if (next(3) === 0) calls.push({ key: `${key}:2`, buckets: two, costs: [1 + next(3), 1 + next(2)] });
    else calls.push({ key, buckets: one, costs: [next(4) === 0 ? 2 : 1] });
  }
  return calls;
}

/** ioredis with auto-pipelining, as the bench and many apps make it: coalesced calls go through explicit pipelines. */
const autoPipelining: ClientKind[] = clientKinds
  .filter((kind) => kind.family === 'ioredis')
  .map((kind) => ({
    ...kind,
    name: `${kind.name} (auto-pipelining)`,
    open: async () => {
      if (!kind.cluster) return new Redis(REDIS_URL, { enableAutoPipelining: true });
      const nodes = redis.clusterNodes.map((node) => ({
        host: node.split(':')[0] as string,
        port: Number(node.split(':')[1]),
      }));
      return new Cluster(nodes, { enableAutoPipelining: true });
    },
  }));

for (const kind of [...clientKinds, ...autoPipelining]) describeKind(kind);

function describeKind(kind: ClientKind) {
  describe.skipIf(!kind.enabled)(`coalesced decisions on ${kind.name}`, () => {
    let client: RedisClientLike;
    beforeAll(async () => {
      client = await kind.open();
    });
    afterAll(() => kind.close(client));

    it('answers a concurrent burst as one-at-a-time calls in call order (bit for bit with MemoryStore), in fewer script calls', async () => {
      const clock = { now: 1_700_000_000_000 };
      const now = () => clock.now;
      // Without the denial cache, which answers a refused key from memory at once, ahead of calls on
      // that key still on their way to Redis (coalesced or not), so its tokens can differ from the
      // in-order answer.
      const store = new RedisStore({ client, now, denialCache: false });
      const twin = new MemoryStore({ now });
      const batcher = batcherOf(redisConnection(client) as NonNullable<ReturnType<typeof redisConnection>>);
      const prefix = uniquePrefix('coalesce');
      for (const [round, advance] of [0, 0, 250, 1000, 30_000].entries()) {
        clock.now += advance;
        const calls = burst(prefix, 300, round + 1);
        const callsBefore = batcher.calls;
        const decisionsBefore = batcher.decisions;
        const got = await Promise.all(calls.map((c) => store.consume(c.key, c.buckets, c.costs)));
        const want: StoreResult[] = [];
        for (const c of calls) want.push(await twin.consume(c.key, c.buckets, c.costs));
        expect(got).toEqual(want);
        const decisions = batcher.decisions - decisionsBefore;
        const scriptCalls = batcher.calls - callsBefore;
        expect(decisions).toBe(calls.length);
        if (!kind.cluster) expect(scriptCalls).toBeLessThanOrEqual(Math.ceil(decisions / MAX_BATCH));
        else expect(scriptCalls).toBeLessThan(decisions);
      }
      await store.close();
      twin.close();
    });

    it('keeps the keys of one call in one slot: hash-tagged keys share calls, and no call is refused as CROSSSLOT', async () => {
      const store = new RedisStore({ client, now: () => 1_700_000_000_000 });
      const batcher = batcherOf(redisConnection(client) as NonNullable<ReturnType<typeof redisConnection>>);
      const tag = `{${uniquePrefix('tag')}}`;
      const before = batcher.calls;
      const tagged = await Promise.all(
        Array.from({ length: 3 * MAX_BATCH }, (_, i) => store.consume(`${tag}:k${i % 50}`, one, [1])),
      );
      expect(tagged.every((r) => r.allowed)).toBe(true);
      expect(batcher.calls - before).toBe(3);
      const spread = uniquePrefix('spread');
      const all = await Promise.all(Array.from({ length: 200 }, (_, i) => store.consume(`${spread}:${i}`, one, [1])));
      expect(all.every((r) => r.allowed && r.tokens[0] === 4)).toBe(true);
      await store.close();
    });
  });
}

describe('the coalesce option', () => {
  it('takes true or false, and names the option otherwise', () => {
    const client = new Redis({ lazyConnect: true });
    expect(() => new RedisStore({ client, coalesce: 'yes' as unknown as boolean })).toThrow(/coalesce.*true or false/s);
    expect(() => new RedisStore({ client, coalesce: false })).not.toThrow();
    client.disconnect();
  });
});

describe.skipIf(redis.clusterNodes.length === 0)('hash slots', () => {
  it('are the slots the Cluster gives (CLUSTER KEYSLOT), hash tags, empty tags and UTF-8 included', async () => {
    const cluster = await clusterClient();
    await cluster.ping();
    const samples = [
      'tollgate:p:100-60000-100:203.0.113.7',
      'tollgate:n:login:5-900000-5:#abc',
      'ünï{cödé}',
      '{}',
      '{a',
    ];
    const alphabet = ['{', '}', ':', '中', 'é', 'a', 'q', '7'];
    for (let i = 0; i < 300; i++) {
      let key = '';
      for (let j = 0; j < i % 24; j++) key += alphabet[(i * 7 + j * 13 + ((i * j) % 5)) % alphabet.length];
      samples.push(key);
    }
    const node = cluster.nodes('master')[0] as Redis;
    for (const key of samples) {
      expect(hashSlot(key), key).toBe(Number(await node.call('CLUSTER', 'KEYSLOT', key)));
    }
    cluster.disconnect();
  });
});

describe('coalescing, counted by the server (a redis-server of the test’s own)', () => {
  let server: RedisProcess;
  let admin: Redis;
  const clients: Redis[] = [];
  const stores: RedisStore[] = [];
  beforeAll(async () => {
    server = await RedisProcess.start();
    admin = new Redis(server.url);
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const store of stores.splice(0)) await store.close();
    for (const client of clients.splice(0)) client.disconnect();
  });
  afterAll(async () => {
    admin.disconnect();
    await server.stop();
  });

  /** EVALSHA and EVAL calls the server has run, from INFO commandstats. */
  async function scriptCalls(): Promise<number> {
    const info = await admin.info('commandstats');
    let calls = 0;
    for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(m[1]);
    return calls;
  }

  async function warmStore(options: { coalesce?: boolean; timeoutMs?: number } = {}): Promise<RedisStore> {
    const client = new Redis(server.url);
    clients.push(client);
    const store = new RedisStore({ client, logger: silent, ...options });
    stores.push(store);
    // The first decision reads the server's TIME, and so goes alone; later ones use the estimate.
    // Two more load the batch script (EVALSHA, NOSCRIPT, EVAL), so the counts below are the calls.
    const warm = uniquePrefix('warm');
    await store.consume(warm, one, [1]);
    await Promise.all([store.consume(`${warm}:a`, one, [1]), store.consume(`${warm}:b`, one, [1])]);
    return store;
  }

  it('sends 256 concurrent decisions as ceil(256 / MAX_BATCH) script calls (256 with coalesce: false)', async () => {
    const store = await warmStore();
    const prefix = uniquePrefix('count');
    const before = await scriptCalls();
    const results = await Promise.all(Array.from({ length: 256 }, (_, i) => store.consume(`${prefix}:${i}`, one, [1])));
    expect(results.every((r) => r.allowed)).toBe(true);
    // One more if a second has passed since the warm-up: that decision reads TIME, alone.
    expect((await scriptCalls()) - before).toBeLessThanOrEqual(Math.ceil(256 / MAX_BATCH) + 1);
  });

  it('sends one script call per decision with coalesce: false', async () => {
    const store = await warmStore({ coalesce: false });
    const prefix = uniquePrefix('nocoalesce');
    const before = await scriptCalls();
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.consume(`${prefix}:${i}`, one, [1])));
    expect((await scriptCalls()) - before).toBe(100);
  });

  it('sends a lone decision at once, as the one-decision script, with no timer involved', async () => {
    const store = await warmStore();
    const monitor = await admin.duplicate().monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      // What the client sent, not what the script ran.
      if (/^eval/i.test(args[0] ?? '')) seen.push(`${args[0]} ${args[1]}`.toLowerCase());
    });
    // With timers frozen, a flush on a timer would never happen and the decision would hang.
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'] });
    const result = await store.consume(uniquePrefix('lone'), one, [1]);
    vi.useRealTimers();
    expect(result).toEqual({ allowed: true, tokens: [4] });
    await new Promise((resolve) => setTimeout(resolve, 100));
    monitor.disconnect();
    expect(seen).toEqual([`evalsha ${BUCKET_SCRIPT_SHA}`]);
  });

  it('writes a coalesced call in the turn it was gathered on an auto-pipelining ioredis client, not one turn later', async () => {
    const client = new Redis(server.url, { enableAutoPipelining: true });
    clients.push(client);
    const store = new RedisStore({ client, logger: silent });
    stores.push(store);
    const warm = uniquePrefix('warm');
    await store.consume(warm, one, [1]);
    await Promise.all([store.consume(`${warm}:a`, one, [1]), store.consume(`${warm}:b`, one, [1])]);
    const prefix = uniquePrefix('turn');
    const pending = [store.consume(`${prefix}:a`, one, [1]), store.consume(`${prefix}:b`, one, [1])];
    // Scheduled after the batch's own flush: by now the call is on the wire, awaiting its reply
    // (ioredis's auto-pipeline would have held it until its own setImmediate, in the next turn).
    await new Promise((resolve) => setImmediate(resolve));
    expect((client as unknown as { commandQueue: { length: number } }).commandQueue.length).toBe(1);
    expect((await Promise.all(pending)).every((r) => r.allowed)).toBe(true);
  });

  it('runs the batch script after SCRIPT FLUSH (EVALSHA, then EVAL on NOSCRIPT)', async () => {
    const store = await warmStore();
    await admin.script('FLUSH');
    const prefix = uniquePrefix('flush');
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.consume(`${prefix}:${i}`, one, [1])));
    expect(results.every((r) => r.allowed && r.tokens[0] === 4)).toBe(true);
    expect(await admin.script('EXISTS', BATCH_SCRIPT_SHA)).toEqual([1]);
  });

  it('fails each decision of a batch Redis refuses (out of memory) with the same coded error as alone', async () => {
    const prefix = uniquePrefix('oom');
    const coalesced = await warmStore();
    const alone = await warmStore({ coalesce: false });
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    try {
      const settle = (store: RedisStore, tag: string) =>
        Promise.allSettled(Array.from({ length: 20 }, (_, i) => store.consume(`${prefix}:${tag}${i}`, one, [1])));
      const [batched, single] = [await settle(coalesced, 'c'), await settle(alone, 's')];
      for (const outcome of [...batched, ...single]) {
        expect(outcome.status).toBe('rejected');
        const error = (outcome as PromiseRejectedResult).reason;
        expect(error).toBeInstanceOf(TollgateError);
        expect((error as TollgateError).code).toBe(ErrorCodes.STORE_UNAVAILABLE);
        expect((error as TollgateError).message).toMatch(/OOM/);
      }
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
  });

  it('fails each decision of a batch queued or in flight when Redis is killed, each with a coded error', async () => {
    const own = await RedisProcess.start();
    const client = new Redis(own.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    clients.push(client);
    const store = new RedisStore({ client, logger: silent, timeoutMs: 2000 });
    stores.push(store);
    await store.consume(uniquePrefix('warm'), one, [1]);
    const prefix = uniquePrefix('killed');
    const pending = Array.from({ length: 50 }, (_, i) => store.consume(`${prefix}:${i}`, one, [1]));
    own.killSync();
    const outcomes = await Promise.allSettled(pending);
    for (const outcome of outcomes) {
      // Some may have been decided before the kill; every other one fails, coded.
      if (outcome.status === 'fulfilled') continue;
      expect(outcome.reason).toBeInstanceOf(TollgateError);
      expect([ErrorCodes.STORE_UNAVAILABLE, ErrorCodes.STORE_TIMEOUT]).toContain(
        (outcome.reason as TollgateError).code,
      );
    }
    expect(outcomes.some((o) => o.status === 'rejected')).toBe(true);
    await own.stop();
  });

  it('sends the consumes still queued before QUIT when a store that opened its client closes', async () => {
    const store = new RedisStore({ url: server.url, logger: silent });
    const warm = uniquePrefix('warm');
    await store.consume(warm, one, [1]);
    await Promise.all([store.consume(`${warm}:a`, one, [1]), store.consume(`${warm}:b`, one, [1])]);
    const prefix = uniquePrefix('closing');
    const pending = Array.from({ length: 10 }, (_, i) => store.consume(`${prefix}:${i}`, one, [1]));
    await store.close();
    const results = await Promise.all(pending);
    expect(results.every((r) => r.allowed && r.tokens[0] === 4)).toBe(true);
  });

  it('times out each decision of a batch on a hung Redis at the store’s timeoutMs, with STORE_TIMEOUT', async () => {
    const store = await warmStore({ timeoutMs: 300 });
    const prefix = uniquePrefix('hung');
    server.pause();
    try {
      const started = performance.now();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => store.consume(`${prefix}:${i}`, one, [1])),
      );
      const waited = performance.now() - started;
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        expect(((outcome as PromiseRejectedResult).reason as TollgateError).code).toBe(ErrorCodes.STORE_TIMEOUT);
      }
      // Bounded by the timeout (generously: a loaded machine is slow, but a hang is not "slow").
      expect(waited).toBeGreaterThanOrEqual(290);
      expect(waited).toBeLessThan(5000);
    } finally {
      server.resume();
    }
  });
});
