import { type BucketSpec, ErrorCodes, RedisQuotaSource, RedisStore, TollgateError } from '@tollgate/core';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisProcess, redis, uniquePrefix } from '../helpers/redis.js';

/**
 * Issue 12 item 2, store side: every public method of RedisStore ends in bounded time, with a
 * coded error, against a Redis that was killed, one that is paused (SIGSTOP: connections stay
 * open, nothing answers) and one that was never reachable. Before, `reset` on an unreachable Redis
 * was still pending after 45 s, and every call on a paused one waited forever.
 */
const TIMEOUT_MS = 300;
/** Generous: a loaded machine may be slow, but a hang is not "slow". */
const BOUND_MS = TIMEOUT_MS + 3000;
const buckets: BucketSpec[] = [{ id: '5-3600000-5', capacity: 5, ratePerMs: 5 / 3_600_000 }];

type Outcome = { settled: 'resolved' | 'rejected' | 'pending'; error?: unknown; ms: number };

/** How `work` settles within the observation window (longer than the bound, so a hang shows as pending). */
async function observe(work: () => Promise<unknown>): Promise<Outcome> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ settled: 'pending', ms: performance.now() - started }), BOUND_MS + 2000);
  });
  const outcome = await Promise.race([
    work().then(
      () => ({ settled: 'resolved' as const, ms: performance.now() - started }),
      (error: unknown) => ({ settled: 'rejected' as const, error, ms: performance.now() - started }),
    ),
    pending,
  ]);
  clearTimeout(timer);
  return outcome;
}

function expectCodedFailure(outcome: Outcome): void {
  expect(outcome.settled).toBe('rejected');
  expect(outcome.error).toBeInstanceOf(TollgateError);
  expect([ErrorCodes.STORE_TIMEOUT, ErrorCodes.STORE_UNAVAILABLE]).toContain((outcome.error as TollgateError).code);
  expect(outcome.ms).toBeLessThan(BOUND_MS);
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Kind = 'killed' | 'paused' | 'unreachable';

/** A store (opened from a URL, so `close` has a connection to end) whose Redis is then made dead. */
async function deadStore(kind: Kind): Promise<RedisStore> {
  if (kind === 'unreachable') {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1', timeoutMs: TIMEOUT_MS, logger: silent });
    cleanups.push(() => store.close());
    return store;
  }
  const server = await RedisProcess.start();
  cleanups.push(() => server.stop());
  const store = new RedisStore({ url: server.url, timeoutMs: TIMEOUT_MS, logger: silent });
  cleanups.push(() => store.close());
  // Connected and warm: the script is cached and the clock known.
  await store.consume(`${uniquePrefix('warm')}:k`, buckets, [1]);
  if (kind === 'killed') await server.kill();
  else server.pause();
  return store;
}

const silent = { info() {}, warn() {}, error() {} };

const calls: [string, (store: RedisStore, key: string) => Promise<unknown>][] = [
  ['consume', async (s, k) => s.consume(k, buckets, [1])],
  ['peek', (s, k) => s.peek(k, buckets)],
  ['adjust', (s, k) => s.adjust(k, buckets, [-1])],
  ['lower', (s, k) => s.lower(k, buckets, [2])],
  ['reset', (s, k) => s.reset(k)],
  // The quota source reads over the store's connection, within the store's timeoutMs.
  ['RedisQuotaSource.read', (s, k) => new RedisQuotaSource({ store: s }).read(k)],
];

describe.skipIf(!redis.binary)('every RedisStore method ends in bounded time on a dead Redis', () => {
  for (const kind of ['killed', 'paused', 'unreachable'] as const) {
    describe(`${kind} Redis`, () => {
      for (const [name, call] of calls) {
        it(`${name} rejects with STORE_TIMEOUT or STORE_UNAVAILABLE within timeoutMs`, async () => {
          const store = await deadStore(kind);
          const outcome = await observe(() => call(store, `${uniquePrefix(kind)}:${name}`));
          console.log(
            `${kind} Redis, timeoutMs ${TIMEOUT_MS}: ${name} ${outcome.settled} in ${Math.round(outcome.ms)} ms`,
          );
          expectCodedFailure(outcome);
        });
      }

      it('getClient ends', async () => {
        const store = await deadStore(kind);
        const outcome = await observe(() => store.getClient());
        expect(outcome.settled).not.toBe('pending');
        expect(outcome.ms).toBeLessThan(BOUND_MS);
      });

      it('close ends, and with it every attempt to reach Redis', async () => {
        const store = await deadStore(kind);
        // A call in flight too: QUIT then waits behind it in ioredis's queue.
        store.reset('in-flight').catch(() => {});
        const client = (await store.getClient()) as unknown as import('ioredis').Redis;
        const outcome = await observe(() => store.close());
        console.log(`${kind} Redis, timeoutMs ${TIMEOUT_MS}: close ${outcome.settled} in ${Math.round(outcome.ms)} ms`);
        expect(outcome.settled).toBe('resolved');
        expect(outcome.ms).toBeLessThan(BOUND_MS);
        let attempts = 0;
        client.on('reconnecting', () => attempts++);
        client.on('connect', () => attempts++);
        await new Promise((r) => setTimeout(r, 2500));
        expect(attempts).toBe(0);
        expect(['end', 'reconnecting']).toContain(client.status);
      });
    });
  }
});

describe('RedisStore timeoutMs', () => {
  it.each([0, -1, 1.5, 2 ** 31, Number.NaN, '1000'])('refuses %s, naming the option', (value) => {
    expect(() => new RedisStore({ url: 'redis://127.0.0.1:1', timeoutMs: value as number })).toThrow(/`timeoutMs`/);
  });

  it('defaults to 1000 ms and takes 1 to 2^31-1', () => {
    expect(new RedisStore({ url: 'redis://127.0.0.1:1' }).timeoutMs).toBe(1000);
    expect(new RedisStore({ url: 'redis://127.0.0.1:1', timeoutMs: 1 }).timeoutMs).toBe(1);
    expect(new RedisStore({ url: 'redis://127.0.0.1:1', timeoutMs: 2 ** 31 - 1 }).timeoutMs).toBe(2 ** 31 - 1);
  });
});
