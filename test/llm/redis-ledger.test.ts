import { ErrorCodes, type RedisClientLike, RedisStore } from '@tollgate/core';
import { ClaudeRateLimiter } from '@tollgate/llm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { type ClientKind, clientKinds } from '../redis/clients.js';
import { collectingLogger, today } from './support.js';

/** The usage ledger in a real Redis: one script per call, shared by every instance, kept 31 days. */
describe.skipIf(!redis.server)('the Claude usage ledger in Redis', () => {
  const client = new Redis(REDIS_URL);
  afterAll(() => client.quit());
  const usage = { input_tokens: 1_000, output_tokens: 100 };
  const make = (prefix: string) => new ClaudeRateLimiter({ redis: client, prefix, logger: collectingLogger().logger });

  it('two instances sharing a prefix share one ledger, and one request id counts once between them', async () => {
    const prefix = uniquePrefix('ledger-shared');
    const a = make(prefix);
    const b = make(prefix);
    await a.recordUsage('claude-sonnet-4-5', usage, { requestId: 'req_shared' });
    await b.recordUsage('claude-sonnet-4-5', usage, { requestId: 'req_shared' });
    await b.recordUsage('claude-sonnet-4-5', usage, { requestId: 'req_b' });
    // 1000×3 + 100×15 = 4,500 µ$ each
    expect(await a.getUsageStats({ days: 1 })).toMatchObject({ calls: 2, costMicros: 9_000 });
    expect(await b.getUsageStats({ days: 1 })).toMatchObject({ calls: 2, costMicros: 9_000 });
  });

  it('concurrent records of one request id count exactly once', async () => {
    const prefix = uniquePrefix('ledger-race');
    const instances = Array.from({ length: 5 }, () => make(prefix));
    await Promise.all(
      instances.flatMap((c) =>
        Array.from({ length: 10 }, () => c.recordUsage('claude-haiku-4-5', usage, { requestId: 'req_race' })),
      ),
    );
    // 1000×1 + 100×5
    expect(await instances[0]?.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, costMicros: 1_500 });
  });

  it('many concurrent records add up exactly (integer micro-dollars, no lost updates)', async () => {
    const claude = make(uniquePrefix('ledger-sum'));
    const calls = 200;
    await Promise.all(
      Array.from({ length: calls }, (_, i) =>
        claude.recordUsage('claude-haiku-5-5', { input_tokens: 3, output_tokens: 1 }, { requestId: `req_${i}` }),
      ),
    );
    // 3×0.10 + 1×0.50 = 0.8 µ$ → 1 µ$ per call, rounded once per call
    const stats = await claude.getUsageStats({ days: 1 });
    expect(stats).toMatchObject({ calls, costMicros: calls });
    expect(stats.tokens).toMatchObject({ input: 3 * calls, output: calls });
  });

  it('keeps one hash per UTC day under the prefix, expiring after 31 days', async () => {
    const prefix = uniquePrefix('ledger-keys');
    const claude = make(prefix);
    await claude.recordUsage('claude-sonnet-4-5', usage, { requestId: 'req_k' });
    const keys = (await client.keys(`${prefix}:llm:*`)).sort();
    const day = `${prefix}:llm:{usage:${today()}}`;
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(day);
    expect(keys[1]?.startsWith(`${day}:req:`)).toBe(true);
    // The raw request id never becomes a key.
    expect(keys[1]).not.toContain('req_k');
    for (const key of keys) {
      const ttl = await client.ttl(key);
      expect(ttl).toBeGreaterThan(30 * 86_400);
      expect(ttl).toBeLessThanOrEqual(31 * 86_400);
    }
    expect(await client.hgetall(day)).toEqual({
      'claude-sonnet-4-5:calls': '1',
      'claude-sonnet-4-5:costMicros': '4500',
      'claude-sonnet-4-5:input': '1000',
      'claude-sonnet-4-5:output': '100',
    });
  });

  it('works after SCRIPT FLUSH (EVALSHA, then EVAL on NOSCRIPT)', async () => {
    const claude = make(uniquePrefix('ledger-flush'));
    await claude.recordUsage('claude-sonnet-4-5', usage);
    await client.script('FLUSH');
    await claude.recordUsage('claude-sonnet-4-5', usage);
    expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 2 });
  });

  it('a RedisStore given as `store` keeps the ledger in Redis too', async () => {
    const prefix = uniquePrefix('ledger-store');
    const claude = new ClaudeRateLimiter({
      store: new RedisStore({ client }),
      prefix,
      logger: collectingLogger().logger,
    });
    await claude.recordUsage('claude-sonnet-4-5', usage);
    expect(await client.hget(`${prefix}:llm:{usage:${today()}}`, 'claude-sonnet-4-5:calls')).toBe('1');
  });

  it('an invalid model id is refused (TOLLGATE_INVALID_MODEL), never a raw key fragment nor a placeholder', async () => {
    const prefix = uniquePrefix('ledger-model');
    const claude = make(prefix);
    const refused = await Promise.resolve()
      .then(() => claude.recordUsage('claude:evil model}{', usage))
      .catch((error: { code?: string }) => error);
    expect(refused).toMatchObject({ code: ErrorCodes.INVALID_MODEL });
    expect(await client.keys(`${prefix}:*`)).toEqual([]);
    expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 0, models: {} });
  });
});

/**
 * The ledger and budgets on every client family, one Redis and the Cluster: a limiter given a
 * node-redis or GLIDE client (or a RedisStore on one) keeps them in Redis, shared with instances
 * on any other client.
 */
for (const kind of clientKinds) {
  describe.skipIf(!kind.enabled)(`the usage ledger and budgets on ${kind.name}`, () => {
    let client: RedisClientLike;
    let ioredis: RedisClientLike;
    const ioredisKind = clientKinds.find((k) => k.family === 'ioredis' && k.cluster === kind.cluster) as ClientKind;
    beforeAll(async () => {
      client = await kind.open();
      ioredis = await ioredisKind.open();
    });
    afterAll(async () => {
      await kind.close(client);
      await ioredisKind.close(ioredis);
    });
    const usage = { input_tokens: 1_000, output_tokens: 100 };

    it('shares one ledger with an instance on ioredis; a request id counts once between them', async () => {
      const prefix = uniquePrefix('ledger-client');
      const logger = collectingLogger().logger;
      const mine = new ClaudeRateLimiter({ redis: client, prefix, logger });
      const viaStore = new ClaudeRateLimiter({ store: new RedisStore({ client }), prefix, logger });
      const theirs = new ClaudeRateLimiter({ redis: ioredis, prefix, logger });
      await mine.recordUsage('claude-sonnet-4-5', usage, { requestId: 'req_1' });
      await theirs.recordUsage('claude-sonnet-4-5', usage, { requestId: 'req_1' });
      await viaStore.recordUsage('claude-sonnet-4-5', usage, { requestId: 'req_2' });
      // 1000×3 + 100×15 = 4,500 µ$ each
      for (const claude of [mine, viaStore, theirs]) {
        expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 2, costMicros: 9_000 });
      }
    });

    it('holds budgets in Redis: a second instance sees the first one’s hold', async () => {
      const prefix = uniquePrefix('budget-client');
      const logger = collectingLogger().logger;
      // Worst case per call: 100 input × 3 + 500 max_tokens × 15 = 7,800 µ$; the cap lets one through.
      // Room for every request at once (the default RPM bucket holds one second's worth): only the budget refuses.
      const limits = { '*': { rpm: 6_000, itpm: 1_000_000, otpm: 1_000_000 } };
      const options = { prefix, logger, limits, budgets: { daily: 0.01 } };
      const mine = new ClaudeRateLimiter({ redis: client, ...options });
      const theirs = new ClaudeRateLimiter({ redis: ioredis, ...options });
      const call = { inputTokens: 100, maxTokens: 500, waitMs: 0 };
      const held = await mine.checkLimit('claude-sonnet-4-5', call);
      await expect(theirs.checkLimit('claude-sonnet-4-5', call)).rejects.toMatchObject({
        code: ErrorCodes.BUDGET_EXCEEDED,
      });
      await held.settle({ input_tokens: 100, output_tokens: 10 });
      await (await theirs.checkLimit('claude-sonnet-4-5', call)).settle({ input_tokens: 100, output_tokens: 10 });
    });
  });
}
