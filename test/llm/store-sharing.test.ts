import { ErrorCodes, MemoryStore, RedisStore, type Store } from '@tollgate/core';
import { ClaudeRateLimiter } from '@tollgate/llm';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { collectingLogger } from './support.js';

/**
 * A store says what it can do: one with `connection()` shares the usage ledger and budgets
 * through it (no `instanceof RedisStore`), a MemoryStore keeps them in the process, and any
 * other store is refused with budgets and warned about without: never silently per-process.
 */

/** A store of the app's own that wraps another, passing on only what a Store is. */
function wrapped(inner: Store): Store {
  return {
    consume: (key, buckets, costs) => inner.consume(key, buckets, costs),
    adjust: (key, buckets, deltas) => (inner.adjust as NonNullable<Store['adjust']>)(key, buckets, deltas),
    lower: (key, buckets, ceilings) => (inner.lower as NonNullable<Store['lower']>)(key, buckets, ceilings),
    peek: (key, buckets) => inner.peek(key, buckets),
    reset: (key) => inner.reset(key),
  };
}

const usage = { input_tokens: 1_000, output_tokens: 100 };

describe('a store that cannot share usage', () => {
  it('with budgets, is refused naming what it lacks', () => {
    const make = () => new ClaudeRateLimiter({ store: wrapped(new MemoryStore()), budgets: { daily: 5 } });
    expect(make).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'store' }));
    expect(make).toThrow(/connection\(\)/);
  });

  it('without budgets, is warned about once: usage is counted per process', async () => {
    const { lines, logger } = collectingLogger();
    const claude = new ClaudeRateLimiter({ store: wrapped(new MemoryStore()), logger });
    await claude.recordUsage('claude-sonnet-5', usage);
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      expect.stringContaining('cannot share a usage ledger'),
    ]);
  });

  it('a MemoryStore, in-process by nature, is not warned about', () => {
    const { lines, logger } = collectingLogger();
    new ClaudeRateLimiter({ store: new MemoryStore(), budgets: { daily: 5 }, logger });
    new ClaudeRateLimiter({ logger });
    expect(lines).toEqual([]);
  });
});

describe.skipIf(!redis.server)('a store that says it can share (connection())', () => {
  const client = new Redis(REDIS_URL);
  afterAll(() => client.quit());

  it('shares the ledger with every limiter on the same Redis, whatever its class', async () => {
    const prefix = uniquePrefix('llm-share');
    const redisStore = new RedisStore({ client });
    // Not a RedisStore: the app's own store that keeps its buckets in Redis and says so.
    const own: Store & { connection(): ReturnType<RedisStore['connection']> } = {
      ...wrapped(redisStore),
      connection: () => redisStore.connection(),
    };
    const writer = new ClaudeRateLimiter({ store: own, prefix, logger: collectingLogger().logger });
    const reader = new ClaudeRateLimiter({ redis: client, prefix, logger: collectingLogger().logger });
    await writer.recordUsage('claude-sonnet-5', usage);
    const stats = await reader.getUsageStats({ days: 1 });
    expect(stats.calls).toBe(1);
    expect(stats.tokens.input).toBe(1_000);
  });
});
