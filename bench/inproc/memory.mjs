// Heap per key of a memory store, in a fresh process run with --expose-gc:
// `node --expose-gc bench/inproc/memory.mjs '{"store":…,"keys":200000}'`
// 1. `keys` distinct clients each make one decision; each client's key string is made as a
//    request would make it (fresh, per call), so a store that keeps it pays for it.
// 2. Heap used after a full GC, minus before, divided by keys: bytes per key.
// 3. A second store instance with a 1-second window does the same, then waits until every
//    bucket (or window) is full (over) again, lets the store drop what it no longer needs
//    (tollgate: `MemoryStore.sweep()`, which its timer runs every `sweepIntervalMs`; the peers:
//    their own timers), and measures again: how much of the memory came back.
// Prints `RESULT {…}`.
import { setTimeout as sleep } from 'node:timers/promises';

const config = JSON.parse(process.argv[2]);
if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');

const HOUR_MS = 3_600_000;

/** Store name -> async (windowMs, max) => { decide(key), release?(), held() }. */
const STORES = {
  async tollgate(windowMs, max) {
    const { MemoryStore, RateLimiter } = await import('@tollgate/core');
    const store = new MemoryStore({ maxKeys: 1_000_000 });
    const limiter = new RateLimiter({ max, window: windowMs, store });
    return {
      decide: (key) => limiter.consume(key),
      release: () => store.sweep(),
      held: () => store.size,
      close: () => store.close(),
    };
  },
  async 'express-rate-limit'(windowMs) {
    const { MemoryStore } = await import('express-rate-limit');
    const store = new MemoryStore();
    store.init({ windowMs });
    return {
      decide: (key) => store.increment(key),
      held: () => store.previous.size + store.current.size,
      close: () => store.shutdown(),
    };
  },
  async 'rate-limiter-flexible'(windowMs, max) {
    const { RateLimiterMemory } = await import('rate-limiter-flexible');
    const limiter = new RateLimiterMemory({ points: max, duration: windowMs / 1000 });
    return { decide: (key) => limiter.consume(key), held: () => limiter._memoryStorage._storage.size };
  },
  // A cache big enough to hold every key (the plugin's default, 5000, would hold 5000).
  async 'fastify-rate-limit'(windowMs, max) {
    const { default: LocalStore } = await import('@fastify/rate-limit/store/LocalStore.js');
    const store = new LocalStore(false, false, config.keys);
    const cb = () => {};
    return { decide: (key) => store.incr(key, cb, windowMs, max), held: () => store.lru.size };
  },
  async 'koa-ratelimit'(windowMs, max) {
    const { default: MemoryLimiter } = await import('koa-ratelimit/limiter/memory.js');
    const db = new Map();
    return {
      decide: (id) => new MemoryLimiter({ id, db, max, duration: windowMs }).get(),
      held: () => db.size,
    };
  },
};

function heapAfterGc() {
  for (let i = 0; i < 4; i++) global.gc();
  return process.memoryUsage().heapUsed;
}

async function populate(subject, count) {
  for (let i = 0; i < count; i++) {
    // A new string per call, as `req.ip` is.
    const r = subject.decide(`10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`);
    if (r !== undefined && typeof r.then === 'function') await r;
  }
}

const make = STORES[config.store];
if (make === undefined) throw new Error(`unknown store ${config.store}: ${Object.keys(STORES).join(', ')}`);
const keys = config.keys;

// 1-2: bytes per key, with an hour-long window so nothing expires meanwhile.
let subject = await make(HOUR_MS, 1_000_000);
await populate(subject, 1000); // code paths compiled, lazy structures created
let base = heapAfterGc();
await populate(subject, keys);
const full = heapAfterGc();
const bytesPerKey = (full - base) / keys;
const heldLong = subject.held();
subject.close?.();
subject = undefined;

// 3: does it come back once buckets are full again? A 1 s window, 10 per second.
const windowMs = 1000;
subject = await make(windowMs, 10);
await populate(subject, 1000);
await sleep(2 * windowMs + 200);
subject.release?.();
base = heapAfterGc();
await populate(subject, keys);
const peak = heapAfterGc();
const heldAtPeak = subject.held();
await sleep(2 * windowMs + 500);
subject.release?.();
const after = heapAfterGc();
const heldAfter = subject.held();
subject.close?.();

process.stdout.write(
  `RESULT ${JSON.stringify({
    store: config.store,
    keys,
    bytesPerKey,
    heldKeys: heldLong,
    refill: {
      grewBytes: peak - base,
      keptBytes: after - base,
      returnedShare: peak - base > 0 ? 1 - (after - base) / (peak - base) : undefined,
      heldAtPeak,
      heldAfter,
    },
  })}\n`,
);
process.exit(0);
