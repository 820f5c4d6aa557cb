import { ErrorCodes, type FailMode, RateLimiter, RedisStore, TollgateError } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisProcess, redis } from '../helpers/redis.js';

// Every public method of RateLimiter ends within its timeoutMs whatever the Redis does: decisions
// with the fail mode, reset with a coded error. (reset used to wait forever on an unreachable Redis.)

const TIMEOUT_MS = 300;
/** Generous: the bound is what matters, not the speed, on a machine shared with other runs. */
const SLACK_MS = 3000;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Outage = 'killed' | 'paused (SIGSTOP)' | 'unreachable';

/** A limiter on a RedisStore whose Redis is in the given state, with a client left at ioredis's defaults. */
async function limiterFacing(outage: Outage, failMode: FailMode) {
  let url = 'redis://127.0.0.1:1';
  let server: RedisProcess | undefined;
  if (outage !== 'unreachable') {
    server = await RedisProcess.start();
    cleanups.push(() => server?.stop());
    url = server.url;
  }
  const client = new Redis(url);
  client.on('error', () => {});
  cleanups.push(() => client.disconnect());
  const logger = { info() {}, warn() {}, error() {} };
  const store = new RedisStore({ client, logger });
  cleanups.push(() => store.close());
  // No circuit: every call must reach the store and meet the outage, not an open breaker.
  const limiter = new RateLimiter({
    max: 5,
    window: '1h',
    store,
    failMode,
    timeoutMs: TIMEOUT_MS,
    circuit: false,
    logger,
  });
  if (server !== undefined) {
    // Connected and working first, so the outage strikes a live client.
    expect((await limiter.consume('warm-up')).source).toBe('store');
    if (outage === 'killed') await server.kill();
    else server.pause();
  }
  return limiter;
}

interface Outcome {
  settled: boolean;
  value?: unknown;
  error?: unknown;
}

/** Whether `work` settled within `ms`, how, and when. */
async function within(ms: number, work: () => Promise<unknown>) {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ settled: false }), ms);
  });
  const outcome = await Promise.race<Outcome>([
    work().then(
      (value) => ({ settled: true, value }),
      (error: unknown) => ({ settled: true, error }),
    ),
    pending,
  ]);
  clearTimeout(timer);
  return { ...outcome, ms: Math.round(performance.now() - started) };
}

const outages: Outage[] = ['killed', 'paused (SIGSTOP)', 'unreachable'];

describe.skipIf(!redis.binary)('RateLimiter against a Redis that is down', () => {
  describe.each(outages)('a Redis %s', (outage) => {
    it('consume, decide, check and peek answer with the fail mode within timeoutMs', async () => {
      const limiter = await limiterFacing(outage, 'local');
      const calls = {
        consume: () => limiter.consume('client'),
        decide: async () => limiter.decide('client'),
        check: () => limiter.check('client'),
        peek: () => limiter.peek('client'),
      };
      for (const [method, call] of Object.entries(calls)) {
        const result = await within(TIMEOUT_MS + SLACK_MS, call);
        expect(result.settled, `${method} still pending after ${result.ms} ms`).toBe(true);
        expect(result.error, method).toBeUndefined();
        expect(result.value, method).toMatchObject({ source: 'local' });
      }
    });

    it("check with failMode 'closed' throws StoreUnavailableError within timeoutMs", async () => {
      const limiter = await limiterFacing(outage, 'closed');
      const result = await within(TIMEOUT_MS + SLACK_MS, () => limiter.check('client'));
      expect(result.settled, `check still pending after ${result.ms} ms`).toBe(true);
      expect(result.error).toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE, name: 'StoreUnavailableError' });
    });

    it('reset rejects with a coded store error naming the limiter within timeoutMs', async () => {
      const limiter = await limiterFacing(outage, 'local');
      const result = await within(TIMEOUT_MS + SLACK_MS, () => limiter.reset('secret-client-key'));
      expect(result.settled, `reset still pending after ${result.ms} ms`).toBe(true);
      expect(result.error).toBeInstanceOf(TollgateError);
      const error = result.error as TollgateError;
      expect([ErrorCodes.STORE_TIMEOUT, ErrorCodes.STORE_UNAVAILABLE]).toContain(error.code);
      expect(error.message).toContain(`limiter "${limiter.label}"`);
      expect(error.message).not.toContain('secret-client-key');
    });
  });
});
