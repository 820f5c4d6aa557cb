import { RateLimitExceededError, RateLimiter, RedisStore } from '@tollgate/core';
import { BudgetExceededError, ClaudeRateLimiter } from '@tollgate/llm';
import type { Cluster } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterClient, redis, uniquePrefix } from '../helpers/redis.js';
import { clusterKeys, collectingLogger, keySlot, report } from './support.js';

/**
 * RedisStore over an ioredis Cluster (three masters, one replica each), feature by feature.
 * A decision touches one key, so multi-policy limiters cannot hit CROSSSLOT; the Claude
 * limiter's scripts that touch several keys (usage ledger, spend budgets) tag them into one
 * slot. Any CROSSSLOT error would fail these tests.
 */
const enabled = redis.server && redis.binary && redis.clusterNodes.length > 0;
const cluster: Cluster | undefined = enabled ? await clusterClient() : undefined;
afterAll(async () => {
  await cluster?.quit();
});

describe.skipIf(!enabled)('RedisStore on Redis Cluster', () => {
  const c = () => cluster as Cluster;
  const store = () => new RedisStore({ client: c() });

  it('a single-policy limiter admits exactly max, then refuses; peek does not consume; reset refills', async () => {
    const prefix = uniquePrefix('cl-single');
    const limiter = new RateLimiter({ max: 5, window: '1h', prefix, store: store() });
    const decisions = await Promise.all(Array.from({ length: 12 }, () => limiter.consume('user:1')));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    expect(decisions.every((d) => d.source === 'store')).toBe(true);
    expect(await limiter.peek('user:1')).toMatchObject({ allowed: false, remaining: 0, source: 'store' });
    expect(await limiter.peek('user:1')).toMatchObject({ remaining: 0 });
    await limiter.reset('user:1');
    expect(await limiter.peek('user:1')).toMatchObject({ allowed: true, remaining: 5 });
    expect(await limiter.consume('user:1')).toMatchObject({ allowed: true, remaining: 4 });
    // The key expires once the bucket would be full again (1 token = 12 minutes), plus the slack
    // of at most a minute that spares a busy key a new TTL on every call, plus the uncertainty of
    // the store's estimate of the server clock (a refilled bucket is stamped at its upper bound).
    const [key] = await clusterKeys(c(), `${prefix}:*`);
    const ttl = await c().pttl(key as string);
    expect(ttl).toBeGreaterThan(11 * 60_000);
    expect(ttl).toBeLessThanOrEqual(12 * 60_000 + 60_000 + 1000);
  });

  it('a multi-policy limiter keeps every policy of a key in one value: one slot, all-or-nothing', async () => {
    const prefix = uniquePrefix('cl-multi');
    const limiter = new RateLimiter({
      policies: [
        { max: 3, window: '1s' },
        { max: 10, window: '1h' },
      ],
      prefix,
      store: store(),
    });
    const decisions = await Promise.all(Array.from({ length: 8 }, () => limiter.consume('user:2')));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(3);
    const keys = await clusterKeys(c(), `${prefix}:*`);
    expect(keys).toHaveLength(1);
    // Four doubles (expiry, since, one balance per policy), then the policy ids.
    const value = (await c().getBuffer(keys[0] as string)) as Buffer;
    expect(value.subarray(32).toString()).toBe('3-1000-3,10-3600000-10');
    // The refused five took nothing from the hourly bucket.
    const peek = await limiter.peek('user:2');
    expect(peek.policies.map((p) => p.remaining)).toEqual([0, 7]);
  });

  it('cost > 1 is exact across concurrent calls', async () => {
    const limiter = new RateLimiter({ max: 10, window: '1h', prefix: uniquePrefix('cl-cost'), store: store() });
    const decisions = await Promise.all(Array.from({ length: 10 }, () => limiter.consume('user:3', 3)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(3);
    expect((await limiter.peek('user:3')).remaining).toBe(1);
  });

  it('keys spread over every master, and each stays exact', async () => {
    const prefix = uniquePrefix('cl-spread');
    const limiter = new RateLimiter({ max: 2, window: '1h', prefix, store: store() });
    const users = Array.from({ length: 60 }, (_, i) => `user:${i}`);
    const started = performance.now();
    const decisions = await Promise.all(users.flatMap((u) => [1, 2, 3].map(() => limiter.consume(u))));
    const elapsed = performance.now() - started;
    expect(decisions.filter((d) => d.allowed)).toHaveLength(120);
    const perMaster = await Promise.all(
      c()
        .nodes('master')
        .map((node) => node.keys(`${prefix}:*`)),
    );
    expect(perMaster).toHaveLength(3);
    for (const keys of perMaster) expect(keys.length).toBeGreaterThan(0);
    expect(perMaster.flat()).toHaveLength(60);
    report({
      scenario: 'cluster: 60 keys × 3 calls over 3 masters',
      requests: decisions.length,
      admitted: decisions.filter((d) => d.allowed).length,
      expected: 120,
      maxLatencyMs: Math.round(elapsed),
      errors: 0,
      dataLost: 0,
    });
  });

  it('hash-tag characters in a client key never pick the slot: the key is hashed', async () => {
    const prefix = uniquePrefix('cl-tag');
    const limiter = new RateLimiter({ max: 1, window: '1h', prefix, store: store() });
    // Without hashing, every one of these would land in the slot of "x".
    const hostile = ['{x}a', '{x}b', '{x}c', 'a{x}', '{x}'];
    for (const key of hostile) {
      expect(limiter.keyFor(key)).not.toMatch(/[{}]/);
      expect((await limiter.consume(key)).allowed).toBe(true);
      expect((await limiter.consume(key)).allowed).toBe(false);
    }
    const slots = new Set(await Promise.all(hostile.map((k) => keySlot(c(), limiter.keyFor(k)))));
    expect(slots.size).toBeGreaterThan(1);
    for (const key of await clusterKeys(c(), `${prefix}:*`)) expect(key).not.toMatch(/[{}]/);
  });
});

describe.skipIf(!enabled)('the Claude limiter on Redis Cluster: buckets, usage ledger, spend budgets', () => {
  const c = () => cluster as Cluster;
  const model = 'claude-sonnet-4-5';
  const make = (prefix: string, extra: Partial<ConstructorParameters<typeof ClaudeRateLimiter>[0]> = {}) =>
    new ClaudeRateLimiter({
      store: new RedisStore({ client: c() }),
      prefix,
      // burst: all three requests at once (the default holds a second's worth: 1 at RPM 3).
      limits: { [model]: { rpm: 3, itpm: 100_000, otpm: 100_000, burst: { rpm: 3 } } },
      logger: collectingLogger().logger,
      ...extra,
    });

  it('buckets: admits rpm calls, settles, refuses the next, shared by two instances', async () => {
    const prefix = uniquePrefix('cl-llm');
    const a = make(prefix);
    const b = make(prefix);
    const r1 = await a.checkLimit(model, { inputTokens: 1_000, maxTokens: 500, waitMs: 0 });
    const r2 = await b.checkLimit(model, { inputTokens: 1_000, maxTokens: 500, waitMs: 0 });
    const r3 = await a.checkLimit(model, { inputTokens: 1_000, maxTokens: 500, waitMs: 0 });
    // adjust (settle with usage) and lower (server headers) both run as scripts on the cluster.
    await r1.settle({ input_tokens: 900, output_tokens: 100 });
    await r2.settle(
      { input_tokens: 900, output_tokens: 100 },
      new Headers({ 'anthropic-ratelimit-requests-remaining': '0' }),
    );
    await r3.settle();
    await expect(b.checkLimit(model, { inputTokens: 1_000, maxTokens: 500, waitMs: 0 })).rejects.toBeInstanceOf(
      RateLimitExceededError,
    );
    const keys = await clusterKeys(c(), `${prefix}:*`);
    expect(keys).toEqual([`${prefix}:llm:${model}`]);
  });

  it('usage ledger: records, one request id counts once, stats add up; day keys share a slot', async () => {
    const prefix = uniquePrefix('cl-ledger');
    const a = make(prefix);
    const b = make(prefix);
    const usage = { input_tokens: 1_000, output_tokens: 100 };
    await Promise.all([
      a.recordUsage(model, usage, { requestId: 'req_1' }),
      b.recordUsage(model, usage, { requestId: 'req_1' }),
      b.recordUsage(model, usage, { requestId: 'req_2' }),
      a.recordUsage(model, usage),
    ]);
    // 1000×3 + 100×15 = 4,500 µ$ per call
    expect(await a.getUsageStats({ days: 1 })).toMatchObject({ calls: 3, costMicros: 13_500 });
    const keys = await clusterKeys(c(), `${prefix}:*`);
    expect(keys.length).toBe(3);
    const slots = new Set(await Promise.all(keys.map((k) => keySlot(c(), k))));
    expect(slots.size).toBe(1);
  });

  it('run(): checks, calls, settles and records in one step', async () => {
    const prefix = uniquePrefix('cl-run');
    const claude = make(prefix);
    const message = await claude.run(model, { max_tokens: 200 }, async () => ({
      _request_id: 'req_run',
      usage: { input_tokens: 500, output_tokens: 50 },
    }));
    expect(message._request_id).toBe('req_run');
    expect(await claude.getUsageStats({ days: 1 })).toMatchObject({ calls: 1, costMicros: 500 * 3 + 50 * 15 });
  });

  it('spend budgets: holds and settles against the daily and monthly periods of a tenant in one slot', async () => {
    const prefix = uniquePrefix('cl-budget');
    // Worst case per call: 1,000 × 3 + 500 × 15 = 10,500 µ$; the day allows 30,000.
    const claude = make(prefix, { budgets: { daily: 0.03, monthly: 1 } });
    const estimate = { inputTokens: 1_000, maxTokens: 500, waitMs: 0, tenant: 'acme {corp}' };
    const r1 = await claude.checkLimit(model, estimate);
    const r2 = await claude.checkLimit(model, estimate);
    const budgetKeys = async () => (await clusterKeys(c(), `${prefix}:*`)).filter((k) => k.includes(':llm:{budget:'));
    // The reservation sets exist while calls are held; the spent hashes once they settle.
    const whileHeld = await budgetKeys();
    expect(whileHeld.filter((k) => k.endsWith(':holds'))).toHaveLength(2);
    await expect(claude.checkLimit(model, estimate)).rejects.toBeInstanceOf(BudgetExceededError);
    // Settling r1 at its real cost (4,500 µ$) frees room for one more.
    await r1.settle({ input_tokens: 1_000, output_tokens: 100 });
    const r3 = await claude.checkLimit(model, estimate);
    await r2.settle({ input_tokens: 1_000, output_tokens: 100 });
    await r3.settle({ input_tokens: 1_000, output_tokens: 100 });
    const all = [...new Set([...whileHeld, ...(await budgetKeys())])];
    expect(all).toHaveLength(4);
    const slots = new Set(await Promise.all(all.map((k) => keySlot(c(), k))));
    expect(slots.size).toBe(1);
    for (const key of all) expect(key).not.toContain('acme');
  });
});
