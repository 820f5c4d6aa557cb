// Decisions per second from one store, in a fresh process (the caller pins it to core 0):
// `node bench/inproc/stores.mjs '{"store":…,"keys":1|100000,"seconds":…,"inflight":…,"redisUrl":…,"redisPid":…}'`
// Memory stores are called one decision at a time; Redis stores with `inflight` calls
// outstanding. Each is called the way its middleware calls it. Prints `RESULT {…}`.
import { performance } from 'node:perf_hooks';
import { requireRoot } from '../http/common.mjs';
import { cpuMicros } from '../lib/env.mjs';

const config = JSON.parse(process.argv[2]);
const HOUR_MS = 3_600_000;
const MAX = 1_000_000_000;

/** Client-like addresses: what a limiter keyed by IP sees. */
function clientKeys(count) {
  const keys = new Array(count);
  for (let i = 0; i < count; i++) keys[i] = `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
  return keys;
}

async function redis() {
  const { Redis } = requireRoot('ioredis');
  const client = new Redis(config.redisUrl, { enableAutoPipelining: true, lazyConnect: true });
  await client.connect();
  return client;
}

/** Store name -> async () => ({ decide(key), close() }). */
const STORES = {
  // The whole decision as the middleware asks for it: key derivation, store, Decision, metrics.
  async 'tollgate-limiter'() {
    const { RateLimiter } = await import('@tollgate/core');
    const limiter = new RateLimiter({ max: MAX, window: '1h' });
    return { decide: (key) => limiter.consume(key) };
  },
  // The store alone, as the peers' stores below are called.
  async 'tollgate-store'() {
    const { MemoryStore, RateLimiter } = await import('@tollgate/core');
    const store = new MemoryStore();
    const { policies } = new RateLimiter({ max: MAX, window: '1h', store });
    const costs = [1];
    return { decide: (key) => store.consume(key, policies, costs), close: () => store.close() };
  },
  // The same with the bounded cached clock (a reading per millisecond, at most 64 decisions).
  async 'tollgate-store-cached-clock'() {
    const { MemoryStore, RateLimiter } = await import('@tollgate/core');
    const store = new MemoryStore({ clockResolutionMs: 1 });
    const { policies } = new RateLimiter({ max: MAX, window: '1h', store });
    const costs = [1];
    return { decide: (key) => store.consume(key, policies, costs), close: () => store.close() };
  },
  async 'express-rate-limit'() {
    const { MemoryStore } = await import('express-rate-limit');
    const store = new MemoryStore();
    store.init({ windowMs: HOUR_MS });
    return { decide: (key) => store.increment(key), close: () => store.shutdown() };
  },
  async 'rate-limiter-flexible'() {
    const { RateLimiterMemory } = await import('rate-limiter-flexible');
    const limiter = new RateLimiterMemory({ points: MAX, duration: HOUR_MS / 1000 });
    return { decide: (key) => limiter.consume(key) };
  },
  // The plugin's default store with the plugin's default cache of 5000 keys.
  async 'fastify-rate-limit'() {
    const { default: LocalStore } = await import('@fastify/rate-limit/store/LocalStore.js');
    const store = new LocalStore(false, false, 5000);
    let out;
    const cb = (_err, value) => {
      out = value;
    };
    return {
      decide(key) {
        store.incr(key, cb, HOUR_MS, MAX);
        return out;
      },
    };
  },
  // A Limiter per request over one shared Map, as koa-ratelimit's middleware does.
  async 'koa-ratelimit'() {
    const { default: MemoryLimiter } = await import('koa-ratelimit/limiter/memory.js');
    const db = new Map();
    return { decide: (id) => new MemoryLimiter({ id, db, max: MAX, duration: HOUR_MS }).get() };
  },

  async 'tollgate-redis'() {
    const { RateLimiter, RedisStore } = await import('@tollgate/core');
    const client = await redis();
    const limiter = new RateLimiter({ max: MAX, window: '1h', store: new RedisStore({ client }) });
    return { decide: (key) => limiter.consume(key), close: () => client.quit() };
  },
  // The same with one script call per decision, as before decisions were coalesced (issue 18).
  async 'tollgate-redis-uncoalesced'() {
    const { RateLimiter, RedisStore } = await import('@tollgate/core');
    const client = await redis();
    const store = new RedisStore({ client, coalesce: false });
    const limiter = new RateLimiter({ max: MAX, window: '1h', store });
    return { decide: (key) => limiter.consume(key), close: () => client.quit() };
  },
  async 'rate-limit-redis'() {
    const { RedisStore } = await import('rate-limit-redis');
    const client = await redis();
    const store = new RedisStore({ sendCommand: (command, ...args) => client.call(command, ...args) });
    await store.init({ windowMs: HOUR_MS });
    return { decide: (key) => store.increment(key), close: () => client.quit() };
  },
  async 'rate-limiter-flexible-redis'() {
    const { RateLimiterRedis } = await import('rate-limiter-flexible');
    const storeClient = await redis();
    const limiter = new RateLimiterRedis({ storeClient, keyPrefix: 'middleware', points: MAX, duration: 3600 });
    return { decide: (key) => limiter.consume(key), close: () => storeClient.quit() };
  },
  async 'fastify-rate-limit-redis'() {
    const { default: RedisStore } = await import('@fastify/rate-limit/store/RedisStore.js');
    const client = await redis();
    const store = new RedisStore(false, false, client);
    return {
      decide: (key) =>
        new Promise((resolve, reject) => {
          store.incr(key, (err, value) => (err ? reject(err) : resolve(value)), HOUR_MS, MAX);
        }),
      close: () => client.quit(),
    };
  },
  async 'koa-ratelimit-redis'() {
    const { default: Limiter } = await import('koa-ratelimit/limiter/redis.js');
    const db = await redis();
    return { decide: (id) => new Limiter({ id, db, max: MAX, duration: HOUR_MS }).get(), close: () => db.quit() };
  },
};

async function worker(decide, keys, start, deadline, batch) {
  const n = keys.length;
  let i = start % n;
  let done = 0;
  while (performance.now() < deadline) {
    for (let j = 0; j < batch; j++) {
      const r = decide(keys[i]);
      if (r !== undefined && typeof r.then === 'function') await r;
      i = i + 1 === n ? 0 : i + 1;
      done++;
    }
  }
  return done;
}

async function run(decide, keys, seconds, inflight) {
  const deadline = performance.now() + seconds * 1000;
  const workers = [];
  // One worker checks the clock every 64 calls; many workers (Redis) after every call.
  const batch = inflight === 1 ? 64 : 1;
  for (let w = 0; w < inflight; w++) {
    workers.push(worker(decide, keys, Math.floor((w * keys.length) / inflight), deadline, batch));
  }
  const counts = await Promise.all(workers);
  return counts.reduce((a, b) => a + b, 0);
}

const make = STORES[config.store];
if (make === undefined) throw new Error(`unknown store ${config.store}: ${Object.keys(STORES).join(', ')}`);
const subject = await make();
const keys = clientKeys(config.keys);
const inflight = config.inflight ?? 1;

await run(subject.decide, keys, config.warmupSeconds ?? 1, inflight);
const ownBefore = cpuMicros(process.pid);
const redisBefore = config.redisPid ? cpuMicros(config.redisPid) : undefined;
const started = performance.now();
const decisions = await run(subject.decide, keys, config.seconds, inflight);
const elapsed = (performance.now() - started) / 1000;
const ownCpu = cpuMicros(process.pid) - ownBefore;
const redisCpu = config.redisPid ? cpuMicros(config.redisPid) - redisBefore : undefined;
await subject.close?.();

process.stdout.write(
  `RESULT ${JSON.stringify({
    store: config.store,
    keys: config.keys,
    inflight,
    decisions,
    seconds: elapsed,
    perSecond: decisions / elapsed,
    nodeCpuUsPerDecision: ownCpu / decisions,
    redisCpuUsPerDecision: redisCpu === undefined ? undefined : redisCpu / decisions,
  })}\n`,
);
process.exit(0);
