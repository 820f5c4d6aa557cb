import { ErrorCodes, RedisStore } from '@tollgate/core';
import { runScript } from '@tollgate/core/adapter';
import { ClaudeRateLimiter, MemoryLedger, RedisLedger, type UsageEntry } from '@tollgate/llm';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LEDGER_SCRIPT, LEDGER_SCRIPT_SHA, UNSAFE_RECORD_KEYS } from '../../packages/llm/src/engine/ledger-script.js';
import { usageStats } from '../../packages/llm/src/engine/usage-stats.js';
import { FakeClaude } from '../helpers/fake-claude.js';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { backends, collectingLogger, params, rejection, sdk, today } from './support.js';

/**
 * Issue 15 defect 11: a model id such as `__proto__` or `constructor` reached the ledger's plain
 * objects (`({}).calls === 1` after one recordUsage) and, on Redis, left a `__proto__:calls`
 * field that polluted Object.prototype in every process reading the stats for 31 days.
 */
const UNSAFE = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];
const usage = { input_tokens: 1_000, output_tokens: 100 };
const polluted = () =>
  Object.keys(Object.prototype).length > 0 ||
  ({} as Record<string, unknown>).calls !== undefined ||
  ({} as Record<string, unknown>).costMicros !== undefined;

/** Refused either way: thrown at once or rejected. */
const refused = (call: () => Promise<unknown>) => rejection(Promise.resolve().then(call));

afterEach(() => {
  // A polluted prototype would break every later test: undo it, after the test has failed.
  for (const key of Object.keys(Object.prototype)) delete (Object.prototype as Record<string, unknown>)[key];
});

it('the unsafe names cover every property Object.prototype has', () => {
  for (const name of Object.getOwnPropertyNames(Object.prototype)) expect(UNSAFE_RECORD_KEYS).toContain(name);
  expect(UNSAFE_RECORD_KEYS).toContain('prototype');
});

for (const backend of backends()) {
  describe.skipIf(!backend.available)(`unsafe model ids on ${backend.name}`, () => {
    afterAll(() => backend.close());

    it.each(UNSAFE)('recordUsage(%j) is refused with TOLLGATE_INVALID_MODEL; nothing is recorded', async (model) => {
      const claude = backend.make();
      const error = await refused(() => claude.recordUsage(model, usage));
      expect(error.code).toBe(ErrorCodes.INVALID_MODEL);
      expect(polluted()).toBe(false);
      const stats = await claude.getUsageStats({ days: 1 });
      expect(stats).toMatchObject({ calls: 0, costMicros: 0 });
      expect(polluted()).toBe(false);
    });

    it('run() and checkLimit() refuse them before calling the API', async () => {
      const fake = await FakeClaude.start();
      const anthropic = sdk(fake.url);
      const claude = backend.make({ budgets: { daily: 1 } });
      for (const model of UNSAFE) {
        const viaRun = await refused(() =>
          claude.run(model, params(model), (p: never) => anthropic.messages.create(p).withResponse()),
        );
        expect(viaRun.code).toBe(ErrorCodes.INVALID_MODEL);
        expect((await refused(() => claude.checkLimit(model, { inputTokens: 10 }))).code).toBe(
          ErrorCodes.INVALID_MODEL,
        );
      }
      expect(fake.calls).toBe(0);
      expect(polluted()).toBe(false);
      await fake.close();
    });
  });
}

describe('the ledgers themselves (what a provider without the facade would reach)', () => {
  const entry = (model: string): UsageEntry => ({
    day: today(),
    model,
    tokens: { input: 1, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 1 },
    micros: 5,
    priced: true,
    success: true,
  });

  it('MemoryLedger refuses an unsafe model id and keeps prototype-free counters', async () => {
    const ledger = new MemoryLedger();
    for (const model of UNSAFE) {
      expect((await rejection(ledger.record(entry(model)))).code).toBe(ErrorCodes.INVALID_MODEL);
    }
    expect(polluted()).toBe(false);
    // All or nothing: the refused entry did not even mark its request id.
    expect((await rejection(ledger.record({ ...entry('__proto__'), requestId: 'req_same' }))).code).toBe(
      ErrorCodes.INVALID_MODEL,
    );
    expect(await ledger.record({ ...entry('claude-sonnet-4-5'), requestId: 'req_same' })).toBe(true);
    const day = (await ledger.read([today()])).get(today()) as Record<string, unknown>;
    expect(Object.getPrototypeOf(day)).toBeNull();
    expect(Object.getPrototypeOf(day['claude-sonnet-4-5'])).toBeNull();
    expect(Object.keys(day)).toEqual(['claude-sonnet-4-5']);
  });

  it('usageStats sums counters keyed __proto__ or constructor without touching Object.prototype', () => {
    // As JSON.parse makes them: own properties named __proto__ and constructor.
    const day = JSON.parse('{"__proto__":{"calls":1,"costMicros":7},"constructor":{"calls":2}}');
    const stats = usageStats([today()], new Map([[today(), day]]), 'test');
    expect(polluted()).toBe(false);
    expect(stats.calls).toBe(3);
    expect(Object.getPrototypeOf(stats.models)).toBeNull();
  });
});

describe.skipIf(!redis.server)('the Redis ledger: all-or-nothing, and reads that never pollute', () => {
  const client = new Redis(REDIS_URL);
  afterAll(() => client.quit());
  const store = new RedisStore({ client });
  const connection = () => store.connection();

  it('RedisLedger refuses an unsafe model id before sending anything', async () => {
    const prefix = uniquePrefix('ledger-unsafe');
    const ledger = new RedisLedger(connection, prefix);
    for (const model of UNSAFE) {
      expect((await rejection(ledger.record({ ...entry(model), requestId: 'req_x' }))).code).toBe(
        ErrorCodes.INVALID_MODEL,
      );
    }
    expect(await client.keys(`${prefix}:*`)).toEqual([]);
  });

  it('the script itself refuses a bad field and writes nothing, not even the request-id mark', async () => {
    const prefix = uniquePrefix('ledger-script');
    const day = `${prefix}:llm:{usage:${today()}}`;
    const marker = `${day}:req:x`;
    const args = ['60', '1', 'claude-sonnet-4-5:calls', '1', '__proto__:calls', '1'];
    const conn = await connection();
    await expect(
      runScript(conn, { source: LEDGER_SCRIPT, sha: LEDGER_SCRIPT_SHA }, [day, marker], args),
    ).rejects.toThrow(/TOLLGATE_LEDGER_FIELD/);
    for (const bad of [
      ['constructor:calls', '1'],
      ['claude-sonnet-4-5:calls', '1.5'],
      ['no-colon', '1'],
    ]) {
      await expect(
        runScript(conn, { source: LEDGER_SCRIPT, sha: LEDGER_SCRIPT_SHA }, [day, marker], ['60', '1', ...bad]),
      ).rejects.toThrow(/TOLLGATE_LEDGER_FIELD/);
    }
    expect(await client.exists(day, marker)).toBe(0);
  });

  it('a __proto__ field left by an older version is skipped by getUsageStats, in any process, without pollution', async () => {
    const prefix = uniquePrefix('ledger-legacy');
    const day = `${prefix}:llm:{usage:${today()}}`;
    await client.hset(day, {
      '__proto__:calls': '1',
      '__proto__:costMicros': '5',
      'constructor:calls': '1',
      'claude-sonnet-4-5:calls': '2',
      'claude-sonnet-4-5:costMicros': '9000',
    });
    await client.expire(day, 60);
    const claude = new ClaudeRateLimiter({ redis: client, prefix, logger: collectingLogger().logger });
    const stats = await claude.getUsageStats({ days: 1 });
    expect(polluted()).toBe(false);
    expect(stats).toMatchObject({ calls: 2, costMicros: 9_000 });
    expect(Object.keys(stats.models)).toEqual(['claude-sonnet-4-5']);
  });

  function entry(model: string): UsageEntry {
    return {
      day: today(),
      model,
      tokens: { input: 1, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 1 },
      micros: 5,
      priced: true,
      success: true,
    };
  }
});
