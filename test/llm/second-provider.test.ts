import { consoleLogger, ErrorCodes, MemoryStore, RateLimitExceededError, RedisStore, type Store } from '@tollgate/core';
import { SpendCapError } from '@tollgate/llm';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { LlmLimiter } from '../../packages/llm/src/engine/llm-limiter.js';
import type { CallOutcome, LlmProvider, StoreWrite } from '../../packages/llm/src/engine/provider.js';
import { runWithRetries } from '../../packages/llm/src/engine/retry-loop.js';
import { chooseSharing } from '../../packages/llm/src/engine/store-sharing.js';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { collectingLogger } from './support.js';

/**
 * The seam between the engine and the Claude provider, proved with a second provider written
 * for this test: "Acme", an API whose usage is `{ prompt, completion }`, whose families are the
 * model id up to its first '/', which prices 1 µUSD a token, says what is left in
 * `x-acme-left-*` headers, and refuses with `{ status, wait, capped }`. Nothing Claude-shaped
 * reaches the engine: admission, settlement, the ledger, budgets, spend cap and retries all run
 * on what this provider says.
 */

interface AcmeUsage {
  prompt: number;
  completion: number;
}

interface AcmeError {
  status: number;
  wait?: number;
  capped?: boolean;
}

function acme() {
  const seen: Array<[string, ...unknown[]]> = [];
  const record =
    (what: string) =>
    (...args: unknown[]) =>
      seen.push([what, ...args]);
  const provider: LlmProvider = {
    label: 'Acme API',
    family: (model) => model.split('/')[0] as string,
    safeModelId: (model) => model,
    estimateInput: (request) => ((request as { prompt?: string } | undefined)?.prompt ?? '').length,
    tokenCounts(usage) {
      const u = usage as AcmeUsage;
      return { input: u.prompt, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: u.completion };
    },
    rateLimitedInput: (tokens) => tokens.input,
    price: (_model, tokens) => ({ micros: tokens.input + tokens.output, priced: true }),
    classify(error, now) {
      const e = error as AcmeError;
      return {
        kind: e.status === 503 ? 'busy' : 'other',
        retry: e.status === 503,
        retryAfterMs: e.wait,
        spendCap: e.capped === true ? { errorCode: 'acme_cap', until: now + 60_000 } : undefined,
      };
    },
    unpack(result) {
      const r = result as { usage?: AcmeUsage; headers?: Record<string, string>; id?: string };
      return { usage: r.usage, headers: r.headers, requestId: r.id };
    },
    remaining(headers) {
      const h = headers as Record<string, string>;
      const left = ['requests', 'input', 'output'].map((k) =>
        h[`x-acme-left-${k}`] === undefined ? undefined : Number(h[`x-acme-left-${k}`]),
      );
      return left.some((n) => n !== undefined) ? left : undefined;
    },
    metrics: {
      init: record('init'),
      call: record('call') as (model: string, outcome: CallOutcome) => void,
      usage: record('usage'),
      retry: record('retry'),
      wait: record('wait'),
      storeWriteFailed: record('storeWriteFailed') as (model: string, write: StoreWrite) => void,
    },
  };
  return { provider, seen };
}

function engine(provider: LlmProvider, store: Store = new MemoryStore(), prefix = 'acme', budgets?: { daily: number }) {
  const logger = collectingLogger().logger;
  const sharing = chooseSharing(store, store, { prefix, timeoutMs: 500, budgets: budgets !== undefined, logger });
  return new LlmLimiter(provider, {
    store,
    sharing,
    budgets,
    limits: { small: { rpm: 10, itpm: 1_000, otpm: 1_000 } },
    prefix,
    retry: { maxRetries: 2, baseMs: 1, capMs: 5 },
    maxWaitMs: 1_000,
    rampRecoveryMs: 60_000,
    timeoutMs: 500,
    logger: logger ?? consoleLogger,
    pricesAsOf: 'acme-1',
  });
}

describe('a second provider on the engine', () => {
  it('admits against its family, settles its own usage shape, and prices it into the ledger', async () => {
    const { provider, seen } = acme();
    const limiter = engine(provider);
    const result = await runWithRetries(limiter, 'small/v2', { max_tokens: 200 }, async () => ({
      usage: { prompt: 300, completion: 40 },
      id: 'req-1',
    }));
    expect(result.id).toBe('req-1');
    const stats = await limiter.getUsageStats(1);
    expect(stats).toMatchObject({ calls: 1, costMicros: 340, pricesAsOf: 'acme-1' });
    expect(stats.models['small/v2']?.tokens).toMatchObject({ input: 300, output: 40 });
    expect(seen).toContainEqual(['call', 'small/v2', 'success']);
    // The family's input bucket (1,000 a minute) holds what the call really used: 700 more fit, 701 do not.
    await (await limiter.checkLimit('small/v3', { inputTokens: 700, maxTokens: 1 })).settle();
    await expect(limiter.checkLimit('small/v1', { inputTokens: 701, maxTokens: 1, waitMs: 0 })).rejects.toBeInstanceOf(
      RateLimitExceededError,
    );
  });

  it('retries what it classifies as retryable, after the wait it read, and counts the reason', async () => {
    const { provider, seen } = acme();
    const limiter = engine(provider);
    let calls = 0;
    const result = await runWithRetries(limiter, 'small/v2', {}, async () => {
      calls++;
      if (calls < 3) throw { status: 503, wait: 1 } satisfies AcmeError;
      return { usage: { prompt: 1, completion: 1 } };
    });
    expect(result.usage).toEqual({ prompt: 1, completion: 1 });
    expect(calls).toBe(3);
    expect(seen.filter(([what]) => what === 'retry')).toEqual([
      ['retry', 'small/v2', 'busy'],
      ['retry', 'small/v2', 'busy'],
    ]);
    await expect(
      runWithRetries(limiter, 'small/v2', {}, async () => {
        throw { status: 400 } satisfies AcmeError;
      }),
    ).rejects.toEqual({ status: 400 });
  });

  it('closes the spend-cap gate when it says the cap is reached', async () => {
    const { provider } = acme();
    const limiter = engine(provider);
    let calls = 0;
    const capped = async () => {
      calls++;
      throw { status: 402, capped: true } satisfies AcmeError;
    };
    await expect(runWithRetries(limiter, 'small/v2', {}, capped)).rejects.toBeInstanceOf(SpendCapError);
    await expect(runWithRetries(limiter, 'small/v2', {}, capped)).rejects.toMatchObject({
      code: ErrorCodes.SPEND_CAP_REACHED,
      errorCode: 'acme_cap',
    });
    expect(calls).toBe(1);
  });

  it('lowers the buckets to what its own headers say is left', async () => {
    const { provider } = acme();
    const limiter = engine(provider);
    const reservation = await limiter.checkLimit('small/v2', { inputTokens: 1, maxTokens: 1 });
    await reservation.settle({ prompt: 1, completion: 1 }, { 'x-acme-left-requests': '0' });
    await expect(limiter.checkLimit('small/v2', { inputTokens: 1, maxTokens: 1, waitMs: 0 })).rejects.toBeInstanceOf(
      RateLimitExceededError,
    );
  });
});

describe.skipIf(!redis.server)('a second provider on a store that shares (RedisStore)', () => {
  const client = new Redis(REDIS_URL);
  afterAll(() => client.quit());

  it('shares its ledger and budgets across limiters through the store', async () => {
    const prefix = uniquePrefix('acme');
    const a = engine(acme().provider, new RedisStore({ client }), prefix, { daily: 0.001 });
    const b = engine(acme().provider, new RedisStore({ client }), prefix, { daily: 0.001 });
    await runWithRetries(a, 'small/v2', { max_tokens: 10 }, async () => ({ usage: { prompt: 900, completion: 10 } }));
    expect((await b.getUsageStats(1)).costMicros).toBe(910);
    // 1,000 µUSD a day: 910 are spent (by a), so b cannot hold a worst case of 100 more.
    await expect(b.checkLimit('small/v2', { inputTokens: 95, maxTokens: 10, waitMs: 0 })).rejects.toMatchObject({
      code: ErrorCodes.BUDGET_EXCEEDED,
    });
  });
});
