import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCodes, TollgateError } from '../errors.js';
import type { Logger } from '../log.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { BucketSpec, Store, StoreResult } from '../stores/store.js';
import { isPromiseLike } from './is-promise-like.js';
import { StoreUnavailableError } from './limit-errors.js';
import { type FailMode, RateLimiter } from './rate-limiter.js';

interface LogLine {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

function collectingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (fields: object, message: string): void => {
      lines.push({ level, fields: fields as Record<string, unknown>, message });
    };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

type Mode = 'up' | 'throw' | 'reject' | 'hang' | 'unavailable';

/**
 * A plain-object store in front of a MemoryStore, whose behaviour the test switches: answering,
 * throwing synchronously, rejecting, never settling, or saying it is not connected.
 */
function switchableStore(initial: Mode = 'up') {
  const backing = new MemoryStore();
  const state = { mode: initial };
  const calls = { consume: 0, peek: 0, reset: 0 };
  const act = (answer: () => StoreResult): StoreResult | Promise<StoreResult> => {
    switch (state.mode) {
      case 'throw':
        throw new Error('connection refused');
      case 'reject':
        return Promise.reject(new Error('ECONNRESET'));
      case 'hang':
        return new Promise<StoreResult>(() => {});
      default:
        return Promise.resolve(answer());
    }
  };
  const store = {
    state,
    calls,
    backing,
    consume(key: string, buckets: readonly BucketSpec[], costs: readonly number[]) {
      calls.consume += 1;
      return act(() => backing.consume(key, buckets, costs));
    },
    peek(key: string, buckets: readonly BucketSpec[]) {
      calls.peek += 1;
      return act(() => backing.peek(key, buckets));
    },
    reset(key: string): void | Promise<void> {
      calls.reset += 1;
      const done = act(() => {
        backing.reset(key);
        return { allowed: true, tokens: [] };
      });
      return isPromiseLike(done) ? Promise.resolve(done).then(() => undefined) : undefined;
    },
    isAvailable() {
      return state.mode !== 'unavailable';
    },
  };
  return store satisfies Store;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  vi.useRealTimers();
});

function limiterWith(
  mode: Mode,
  failMode: FailMode | undefined,
  extra: { max?: number; timeoutMs?: number; circuit?: false } = {},
) {
  const store = switchableStore(mode);
  cleanups.push(() => store.backing.close());
  const logger = collectingLogger();
  const limiter = new RateLimiter({
    max: extra.max ?? 2,
    window: '1h',
    store,
    logger,
    ...(failMode === undefined ? {} : { failMode }),
    timeoutMs: extra.timeoutMs ?? 50,
    ...(extra.circuit === undefined ? {} : { circuit: extra.circuit }),
  });
  return { store, logger, limiter };
}

describe.each(['throw', 'reject'] as const)('a store that fails (%s)', (mode) => {
  it("failMode 'local' (the default) answers from an in-process bucket with the same policy", async () => {
    const { limiter, store } = limiterWith(mode, undefined);
    expect(limiter.failMode).toBe('local');
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await limiter.consume('k'));
    expect(decisions.map((d) => d.source)).toEqual(['local', 'local', 'local']);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(decisions[2]).toMatchObject({ limit: 2, remaining: 0 });
    expect(decisions[2]?.retryAfterMs).toBeGreaterThan(1_700_000);
    expect(await limiter.peek('k')).toMatchObject({ source: 'local', remaining: 0 });
    expect(store.calls.consume).toBe(3);
    // check() still enforces the limit from the local bucket
    await expect(limiter.check('k')).rejects.toMatchObject({ code: ErrorCodes.RATE_LIMITED });
  });

  it("failMode 'local' keeps keys apart", async () => {
    const { limiter } = limiterWith(mode, 'local', { max: 1 });
    expect((await limiter.consume('a')).allowed).toBe(true);
    expect((await limiter.consume('a')).allowed).toBe(false);
    expect((await limiter.consume('b')).allowed).toBe(true);
  });

  it("failMode 'open' allows every request", async () => {
    const { limiter } = limiterWith(mode, 'open', { max: 1 });
    for (let i = 0; i < 5; i++) {
      const d = await limiter.consume('k');
      expect(d).toMatchObject({ allowed: true, source: 'open', retryAfterMs: 0 });
    }
    expect(await limiter.check('k')).toMatchObject({ allowed: true, source: 'open' });
    expect(await limiter.peek('k')).toMatchObject({ allowed: true, source: 'open' });
  });

  it("failMode 'closed' refuses, and check() throws StoreUnavailableError", async () => {
    const { limiter } = limiterWith(mode, 'closed');
    const d = await limiter.consume('k');
    expect(d).toMatchObject({ allowed: false, source: 'closed' });
    expect(d.retryAfterMs).toBeGreaterThanOrEqual(1);
    let thrown: unknown;
    try {
      await limiter.check('k');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(StoreUnavailableError);
    expect(thrown).toBeInstanceOf(TollgateError);
    expect((thrown as StoreUnavailableError).code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    expect((thrown as StoreUnavailableError).code).toBe('TOLLGATE_STORE_UNAVAILABLE');
    expect((thrown as StoreUnavailableError).decision).toMatchObject({ allowed: false, source: 'closed' });
  });
});

describe('a store that never answers', () => {
  it.each([
    ['local', 'local', true],
    ['open', 'open', true],
    ['closed', 'closed', false],
  ] as const)(
    "failMode '%s': the decision comes from the fallback after timeoutMs",
    async (failMode, source, allowed) => {
      const { limiter, store } = limiterWith('hang', failMode, { timeoutMs: 50 });
      const d = await limiter.consume('k');
      expect(d).toMatchObject({ source, allowed });
      expect(store.calls.consume).toBe(1);
      expect(limiter.health.failures).toBe(1);
    },
  );

  it('peek falls back too', async () => {
    const { limiter } = limiterWith('hang', 'local', { timeoutMs: 50 });
    expect(await limiter.peek('k')).toMatchObject({ source: 'local', remaining: 2 });
  });

  it('logs the timeout as a coded store timeout', async () => {
    const { limiter, logger } = limiterWith('hang', 'local', { timeoutMs: 20 });
    await limiter.consume('k');
    expect(logger.lines).toHaveLength(1);
    expect(String(logger.lines[0]?.fields.error)).toMatch(/20 ms/);
  });
});

describe('a store that says it is unavailable', () => {
  it.each([
    ['local', 'local'],
    ['open', 'open'],
    ['closed', 'closed'],
  ] as const)("is not called at all (failMode '%s')", async (failMode, source) => {
    const { limiter, store } = limiterWith('unavailable', failMode);
    expect((await limiter.consume('k')).source).toBe(source);
    expect((await limiter.peek('k')).source).toBe(source);
    expect(store.calls).toEqual({ consume: 0, peek: 0, reset: 0 });
    expect(limiter.health.failures).toBe(2);
  });
});

describe('recovery and health', () => {
  it('answers from the store again once it works', async () => {
    const { limiter, store } = limiterWith('throw', 'local');
    expect((await limiter.consume('k')).source).toBe('local');
    store.state.mode = 'up';
    const d = await limiter.consume('k');
    expect(d.source).toBe('store');
    // The store never saw the outage's debit: its bucket is one token down, not two.
    expect(d.remaining).toBe(1);
    expect((await limiter.peek('k')).source).toBe('store');
    store.state.mode = 'unavailable';
    expect((await limiter.consume('k')).source).toBe('local');
    store.state.mode = 'up';
    expect((await limiter.consume('k')).source).toBe('store');
  });

  // These three call a failing store more times in a row than the circuit breaker allows, so they
  // turn it off to see every call reach the store (circuit-breaker.test.ts covers it on).
  it('counts every failure in health.failures', async () => {
    const { limiter, store } = limiterWith('up', 'open', { circuit: false });
    await limiter.consume('k');
    expect(limiter.health.failures).toBe(0);
    store.state.mode = 'reject';
    for (let i = 0; i < 4; i++) await limiter.consume('k');
    await limiter.peek('k');
    store.state.mode = 'unavailable';
    await limiter.consume('k');
    store.state.mode = 'hang';
    await limiter.consume('k');
    expect(limiter.health.failures).toBe(7);
    expect(limiter.health.fallbacks).toBe(7);
    store.state.mode = 'up';
    await limiter.consume('k');
    expect(limiter.health.failures).toBe(7);
  });

  it('logs the first failure once, not once per failure, and the recovery once', async () => {
    const { limiter, store, logger } = limiterWith('throw', 'local', { max: 100, circuit: false });
    for (let i = 0; i < 20; i++) await limiter.consume('k');
    expect(limiter.health.failures).toBe(20);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({ level: 'error', fields: { failMode: 'local' } });
    expect(logger.lines[0]?.fields.error).toBe('connection refused');
    store.state.mode = 'up';
    for (let i = 0; i < 5; i++) await limiter.consume('k');
    expect(logger.lines).toHaveLength(2);
    expect(logger.lines[1]?.level).toBe('warn');
    expect(logger.lines[1]?.message).toMatch(/recover/);
    // A second outage is logged again, once.
    store.state.mode = 'reject';
    for (let i = 0; i < 5; i++) await limiter.consume('k');
    expect(logger.lines).toHaveLength(3);
    expect(logger.lines[2]?.level).toBe('error');
  });

  it('repeats a continuing outage at most every 30 s, with the count of suppressed failures', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_700_000_000_000);
    const { limiter, store, logger } = limiterWith('throw', 'open', { circuit: false });
    for (let i = 0; i < 10; i++) await limiter.consume('k');
    expect(logger.lines).toHaveLength(1);
    vi.setSystemTime(1_700_000_029_000);
    await limiter.consume('k');
    expect(logger.lines).toHaveLength(1);
    vi.setSystemTime(1_700_000_031_000);
    await limiter.consume('k');
    expect(logger.lines).toHaveLength(2);
    expect(logger.lines[1]).toMatchObject({ level: 'error', fields: { suppressed: 10 } });
    store.state.mode = 'up';
    await limiter.consume('k');
    await limiter.consume('k');
    expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
  });

  it('names the limiter in its log lines', async () => {
    const store = switchableStore('throw');
    cleanups.push(() => store.backing.close());
    const logger = collectingLogger();
    const limiter = new RateLimiter({ max: 1, window: '1s', store, logger, name: 'uploads' });
    await limiter.consume('k');
    expect(logger.lines[0]?.fields.limiter).toBe('uploads');
  });

  it('never logs the caller key', async () => {
    const { limiter, logger } = limiterWith('throw', 'local');
    await limiter.consume('secret-user-key');
    expect(JSON.stringify(logger.lines)).not.toContain('secret-user-key');
  });
});

/** How `reset` ends: its rejection, and how long it took. */
async function settle(work: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await work;
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  throw new Error('reset resolved, but the store could not have done it');
}

describe('reset when the store fails', () => {
  it.each([
    ['hang', ErrorCodes.STORE_TIMEOUT, /did not answer within 50 ms/],
    ['throw', ErrorCodes.STORE_UNAVAILABLE, /the store failed \(Error; see cause\)/],
    ['reject', ErrorCodes.STORE_UNAVAILABLE, /the store failed \(Error; see cause\)/],
    ['unavailable', ErrorCodes.STORE_UNAVAILABLE, /the store is not connected/],
  ] as const)(
    'a store that does %s: rejects with a coded error naming the limiter, not the key',
    async (mode, code, reason) => {
      const store = switchableStore(mode);
      cleanups.push(() => store.backing.close());
      const logger = collectingLogger();
      const limiter = new RateLimiter({ max: 2, window: '1h', store, logger, name: 'unlock', timeoutMs: 50 });
      const { error, ms } = await settle(limiter.reset('secret-user-key'));
      expect(error).toBeInstanceOf(TollgateError);
      expect((error as TollgateError).code).toBe(code);
      expect((error as TollgateError).message).toContain('limiter "unlock" could not reset a key');
      expect((error as TollgateError).message).toMatch(reason);
      expect((error as TollgateError).message).not.toContain('secret-user-key');
      // Bounded by timeoutMs (50 ms), with generous slack for a shared machine.
      expect(ms).toBeLessThan(50 + 2000);
      expect(store.calls.reset).toBe(mode === 'unavailable' ? 0 : 1);
    },
  );

  it("keeps the store's own error as the cause", async () => {
    const { limiter } = limiterWith('reject', 'local');
    const { error } = await settle(limiter.reset('k'));
    expect(((error as TollgateError).cause as Error).message).toBe('ECONNRESET');
  });

  it('is logged and counted as a store failure (not a fallback), then the recovery once', async () => {
    const { limiter, store, logger } = limiterWith('reject', 'local');
    await settle(limiter.reset('secret-user-key'));
    expect(limiter.health).toMatchObject({ failures: 1, fallbacks: 0 });
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({ level: 'error', message: 'rate limit store failed' });
    expect(logger.lines[0]?.fields).toMatchObject({ operation: 'reset', error: 'ECONNRESET' });
    expect(JSON.stringify(logger.lines)).not.toContain('secret-user-key');
    store.state.mode = 'up';
    await limiter.reset('k');
    expect(logger.lines[1]).toMatchObject({ level: 'warn', message: 'rate limit store recovered' });
  });

  it('is refused at once, without calling the store, while the circuit is open', async () => {
    const { limiter, store } = limiterWith('reject', 'local');
    for (let i = 0; i < 5; i++) await limiter.consume('k');
    expect(limiter.circuit?.state).toBe('open');
    const { error } = await settle(limiter.reset('k'));
    expect((error as TollgateError).code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    expect((error as TollgateError).message).toMatch(/circuit breaker is open/);
    expect(store.calls.reset).toBe(0);
  });

  it('failed resets open the circuit as failed decisions do', async () => {
    const { limiter, store } = limiterWith('hang', 'local', { timeoutMs: 20 });
    for (let i = 0; i < 5; i++) await settle(limiter.reset('k'));
    expect(limiter.circuit?.state).toBe('open');
    expect((await limiter.consume('k')).source).toBe('local');
    expect(store.calls.consume).toBe(0);
  });
});
