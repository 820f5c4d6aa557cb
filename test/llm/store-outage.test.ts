import type Anthropic from '@anthropic-ai/sdk';
import { ErrorCodes, MemoryStore, RedisStore, register, type Store, TollgateError } from '@tollgate/core';
import { ClaudeRateLimiter, type ClaudeRateLimiterOptions, type Reservation } from '@tollgate/llm';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeClaude, reply } from '../helpers/fake-claude.js';
import { redis } from '../helpers/redis.js';
import { CONDITIONS, expectBounded, outageKit, SLACK_MS, TIMEOUT_MS } from './outage-support.js';
import { collectingLogger, params, rejection, sdk } from './support.js';

/**
 * Every public method of ClaudeRateLimiter ends within `timeoutMs` when Redis is dead, paused or
 * unreachable: before a call with a coded error (nothing is admitted, the API is not called),
 * after one by logging and counting what could not be written (the response is the caller's).
 */

const kit = outageKit();
const MODEL = 'claude-sonnet-5';
const USAGE = { input_tokens: 1_000, output_tokens: 100 };
/** claude-sonnet-5: 1,000 × 2 + 100 × 10 = 3,000 µ$. */
const USAGE_USD = 0.003;
const ROOMY = { '*': { rpm: 1_000, itpm: 1_000_000, otpm: 1_000_000 } };
const call = { inputTokens: 1_000, maxTokens: 100 };

async function failedWrites(write: string): Promise<number> {
  const metric = register.getSingleMetric('tollgate_claude_store_writes_failed_total');
  if (metric === undefined) throw new Error('no tollgate_claude_store_writes_failed_total in the registry');
  const { values } = await metric.get();
  return values.filter((v) => v.labels.model === MODEL && v.labels.write === write).reduce((n, v) => n + v.value, 0);
}

function limiter(client: Redis, options: Omit<ClaudeRateLimiterOptions, 'redis'> = {}) {
  const log = collectingLogger();
  const claude = new ClaudeRateLimiter({
    redis: client,
    timeoutMs: TIMEOUT_MS,
    // What these tests check: nothing admitted without the store (failMode 'local' has its own).
    failMode: 'closed',
    limits: ROOMY,
    logger: log.logger,
    ...options,
  });
  return { claude, lines: log.lines };
}

describe.skipIf(!redis.binary)('ClaudeRateLimiter when Redis is away', () => {
  let fake: FakeClaude;
  let anthropic: Anthropic;
  beforeAll(async () => {
    fake = await FakeClaude.start();
    anthropic = sdk(fake.url);
  });
  afterEach(() => fake.clear());
  afterAll(() => fake.close());

  describe.each(CONDITIONS)('Redis %s', (condition) => {
    it('checkLimit ends with STORE_TIMEOUT within timeoutMs', async () => {
      const { claude } = limiter(await kit.outage(condition));
      const result = await kit.timed(`${condition} checkLimit`, () => claude.checkLimit(MODEL, call));
      expectBounded(result, ErrorCodes.STORE_TIMEOUT);
    });

    it('checkLimit with budgets ends with STORE_TIMEOUT within timeoutMs (the budget hold)', async () => {
      const { claude } = limiter(await kit.outage(condition), { budgets: { daily: 10 } });
      const result = await kit.timed(`${condition} checkLimit with budgets`, () => claude.checkLimit(MODEL, call));
      expectBounded(result, ErrorCodes.STORE_TIMEOUT);
    });

    it('run() ends with STORE_TIMEOUT within timeoutMs and does not call the API', async () => {
      const { claude } = limiter(await kit.outage(condition), { budgets: { daily: 10 } });
      const result = await kit.timed(`${condition} run`, () =>
        claude.run(MODEL, params(MODEL), (p) => anthropic.messages.create(p)),
      );
      expectBounded(result, ErrorCodes.STORE_TIMEOUT);
      expect(fake.messages()).toHaveLength(0);
    });

    it('recordUsage returns the cost within timeoutMs, and logs and counts the entry it could not record', async () => {
      const { claude, lines } = limiter(await kit.outage(condition));
      const counted = await failedWrites('ledger');
      const result = await kit.timed(`${condition} recordUsage`, () =>
        claude.recordUsage(MODEL, USAGE, { requestId: 'req_lost' }),
      );
      expectBounded(result, undefined);
      expect(result.value).toBeCloseTo(USAGE_USD, 9);
      expect(await failedWrites('ledger')).toBe(counted + 1);
      const line = lines.find((l) => l.message.includes('usage not recorded in the ledger'));
      expect(line?.level).toBe('error');
      expect(line?.fields).toMatchObject({
        model: MODEL,
        write: 'ledger',
        code: ErrorCodes.STORE_TIMEOUT,
        entry: { micros: 3_000, requestId: 'req_lost', tokens: { input: 1_000, output: 100 } },
      });
    });

    it('getUsageStats ends with STORE_TIMEOUT within timeoutMs', async () => {
      const { claude } = limiter(await kit.outage(condition));
      const result = await kit.timed(`${condition} getUsageStats`, () => claude.getUsageStats({ days: 31 }));
      expectBounded(result, ErrorCodes.STORE_TIMEOUT);
    });
  });

  // These need a Redis that answered first: the call was admitted, then Redis went away.
  describe.each(['dead', 'paused'] as const)('Redis %s after the call was admitted', (condition) => {
    it('Reservation.settle resolves within timeoutMs, and logs and counts what it could not write', async () => {
      const log = collectingLogger();
      let reservation: Reservation | undefined;
      await kit.outage(condition, async (live) => {
        const claude = new ClaudeRateLimiter({
          redis: live,
          timeoutMs: TIMEOUT_MS,
          limits: ROOMY,
          budgets: { daily: 10 },
          logger: log.logger,
        });
        reservation = await claude.checkLimit(MODEL, call);
      });
      const buckets = await failedWrites('buckets');
      const budget = await failedWrites('budget');
      const result = await kit.timed(`${condition} Reservation.settle`, async () => reservation?.settle(USAGE));
      expectBounded(result, undefined);
      expect(await failedWrites('buckets')).toBe(buckets + 1);
      expect(await failedWrites('budget')).toBe(budget + 1);
      expect(log.lines.find((l) => l.message.includes('spend not settled in the budget'))?.fields).toMatchObject({
        write: 'budget',
        spentMicros: 3_000,
        code: ErrorCodes.STORE_TIMEOUT,
      });
      expect(log.lines.find((l) => l.message.includes('reservation not settled'))?.level).toBe('warn');
    });

    it('run() returns the response when Redis goes away during the call, within timeoutMs of it', async () => {
      const server = await kit.server();
      const { claude, lines } = limiter(kit.client(server.url), { budgets: { daily: 10 } });
      fake.enqueue(reply.ok(USAGE));
      let answeredAt = 0;
      const result = await claude.run(MODEL, params(MODEL), async (p) => {
        if (condition === 'dead') await server.kill();
        else server.pause();
        const response = await anthropic.messages.create(p).withResponse();
        answeredAt = performance.now();
        return response;
      });
      const after = performance.now() - answeredAt;
      kit.figures.push(`${condition} mid-call run: resolved ${Math.round(after)} ms after the API answered`);
      expect(result.data.usage.input_tokens).toBe(1_000);
      expect(after).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      expect(lines.filter((l) => l.level === 'error').map((l) => l.fields)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ write: 'ledger' }),
          expect.objectContaining({ write: 'budget', spentMicros: 3_000 }),
        ]),
      );
    });

    it("run() throws the API's error, not the store's, when Redis goes away during a failing call", async () => {
      const server = await kit.server();
      const { claude } = limiter(kit.client(server.url));
      fake.enqueue(reply.status(400));
      const result = await kit.timed(`${condition} mid-call failing run`, () =>
        claude.run(MODEL, params(MODEL), async (p) => {
          if (condition === 'dead') await server.kill();
          else server.pause();
          return anthropic.messages.create(p);
        }),
      );
      expect(result.error).not.toBeInstanceOf(TollgateError);
      expect((result.error as { status?: number } | undefined)?.status).toBe(400);
      expect(result.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    });
  });

  it('a timeoutMs above the Redis store default (1 s) is what checkLimit waits for a paused Redis', async () => {
    const timeoutMs = 1_600;
    const { claude } = limiter(await kit.outage('paused'), { timeoutMs });
    const result = await kit.timed('paused checkLimit, timeoutMs 1600', () => claude.checkLimit(MODEL, call));
    expect(result.error?.code).toBe(ErrorCodes.STORE_TIMEOUT);
    // Timers never fire early: an answer before timeoutMs would be the store's own default cutting in.
    expect(result.ms).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(result.ms).toBeLessThan(timeoutMs + SLACK_MS);
  });

  it('a client that fails at once (no offline queue) gives STORE_UNAVAILABLE with its error as cause', async () => {
    const server = await kit.server();
    const client = kit.client(server.url, { enableOfflineQueue: false });
    await new Promise((ready) => client.once('ready', ready));
    await server.kill();
    const { claude, lines } = limiter(client, { budgets: { daily: 10 } });
    const checked = await rejection(claude.checkLimit(MODEL, call));
    expect(checked.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    expect(checked.cause).toBeInstanceOf(Error);
    expect((await rejection(claude.getUsageStats())).code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    expect(await claude.recordUsage(MODEL, USAGE)).toBeCloseTo(USAGE_USD, 9);
    expect(lines.find((l) => l.message.includes('usage not recorded'))?.fields).toMatchObject({
      code: ErrorCodes.STORE_UNAVAILABLE,
    });
  });

  it('a RedisStore given a URL nobody answers ends checkLimit and getUsageStats within timeoutMs', async () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1', logger: collectingLogger().logger });
    const own = (await store.getClient()) as unknown as Redis;
    own.on('error', () => {});
    // quit() would wait for a connection that never comes.
    kit.cleanups.push(() => own.disconnect());
    const claude = new ClaudeRateLimiter({
      store,
      timeoutMs: TIMEOUT_MS,
      failMode: 'closed',
      logger: collectingLogger().logger,
    });
    const checked = await kit.timed('unreachable RedisStore url checkLimit', () => claude.checkLimit(MODEL, call));
    expectBounded(checked, ErrorCodes.STORE_TIMEOUT);
    const stats = await kit.timed('unreachable RedisStore url getUsageStats', () => claude.getUsageStats());
    expectBounded(stats, ErrorCodes.STORE_TIMEOUT);
  });
});

describe("ClaudeRateLimiter on a store of the app's own that stops answering", () => {
  /** A MemoryStore whose calls hang from `hangFrom` on: a stub, as no real store hangs on demand. */
  function hangingStore(hangFrom: 'consume' | 'adjust'): Store {
    const memory = new MemoryStore();
    kit.cleanups.push(() => memory.close());
    const never = () => new Promise<never>(() => {});
    return {
      consume: hangFrom === 'consume' ? never : (k, b, c) => memory.consume(k, b, c),
      peek: never,
      reset: never,
      adjust: never,
      lower: never,
    };
  }

  it('checkLimit ends with STORE_TIMEOUT within timeoutMs', async () => {
    const claude = new ClaudeRateLimiter({ store: hangingStore('consume'), timeoutMs: TIMEOUT_MS, failMode: 'closed' });
    const result = await kit.timed('hanging store checkLimit', () => claude.checkLimit(MODEL, call));
    expectBounded(result, ErrorCodes.STORE_TIMEOUT);
  });

  it('Reservation.settle resolves within timeoutMs, logging what it could not write', async () => {
    const log = collectingLogger();
    const claude = new ClaudeRateLimiter({ store: hangingStore('adjust'), timeoutMs: TIMEOUT_MS, logger: log.logger });
    const reservation = await claude.checkLimit(MODEL, call);
    const result = await kit.timed('hanging store Reservation.settle', () => reservation.settle(USAGE));
    expectBounded(result, undefined);
    expect(log.lines.find((l) => l.message.includes('reservation not settled'))?.fields).toMatchObject({
      write: 'buckets',
      code: ErrorCodes.STORE_TIMEOUT,
    });
  });
});

describe('ClaudeRateLimiter timeoutMs', () => {
  it('is whole milliseconds from 1 to 2^31-1', () => {
    for (const bad of [0, -1, 1.5, 2 ** 31, Number.NaN, '500']) {
      expect(() => new ClaudeRateLimiter({ timeoutMs: bad as number })).toThrow(/timeoutMs/);
    }
    expect(() => new ClaudeRateLimiter({ timeoutMs: 1 })).not.toThrow();
    expect(() => new ClaudeRateLimiter({ timeoutMs: 2 ** 31 - 1 })).not.toThrow();
  });
});
