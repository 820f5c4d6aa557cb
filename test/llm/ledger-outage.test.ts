import { ErrorCodes, type RedisClientLike, RedisStore } from '@tollgate/core';
import { RedisLedger, type UsageEntry } from '@tollgate/llm';
import { describe, expect, it } from 'vitest';
import { redis } from '../helpers/redis.js';
import { CONDITIONS, expectBounded, outageKit, TIMEOUT_MS } from './outage-support.js';

/** RedisLedger's record and read end within `timeoutMs` with a coded error when Redis is away. */

const kit = outageKit();

/** A ledger takes a connection, as a RedisStore hands out the one its buckets use. */
function connectionOf(client: RedisClientLike) {
  const store = new RedisStore({ client });
  return () => store.connection();
}
const entry: UsageEntry = {
  day: '2026-12-04',
  model: 'claude-sonnet-5',
  tokens: { input: 1, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 1 },
  micros: 12,
  priced: true,
  success: true,
};

describe.skipIf(!redis.binary)('RedisLedger when Redis is away', () => {
  it.each(CONDITIONS)('Redis %s: record and read end with STORE_TIMEOUT within timeoutMs', async (condition) => {
    const client = await kit.outage(condition);
    const ledger = new RedisLedger(connectionOf(client), 'tgtest-outage', { timeoutMs: TIMEOUT_MS });
    const recorded = await kit.timed(`${condition} RedisLedger.record`, () => ledger.record(entry));
    expectBounded(recorded, ErrorCodes.STORE_TIMEOUT);
    const read = await kit.timed(`${condition} RedisLedger.read`, () => ledger.read(['2026-12-03', '2026-12-04']));
    expectBounded(read, ErrorCodes.STORE_TIMEOUT);
  });

  it('a client that fails at once (no offline queue) gives STORE_UNAVAILABLE with its error as cause', async () => {
    const server = await kit.server();
    const client = kit.client(server.url, { enableOfflineQueue: false });
    await new Promise((ready) => client.once('ready', ready));
    await server.kill();
    const ledger = new RedisLedger(connectionOf(client), 'tgtest-outage');
    const recorded = await kit.timed('dead RedisLedger.record, no offline queue', () => ledger.record(entry));
    expectBounded(recorded, ErrorCodes.STORE_UNAVAILABLE);
    expect(recorded.error?.cause).toBeInstanceOf(Error);
  });

  it('reads every day asked for at once, absent days empty', async () => {
    const server = await kit.server();
    const client = kit.client(server.url);
    const ledger = new RedisLedger(connectionOf(client), 'tgtest-outage', { timeoutMs: TIMEOUT_MS });
    await ledger.record(entry);
    const days = Array.from({ length: 31 }, (_, i) => `2026-11-${String(i + 1).padStart(2, '0')}`);
    const read = await ledger.read([...days, entry.day]);
    expect(read.size).toBe(32);
    expect(read.get(entry.day)).toEqual({ [entry.model]: { calls: 1, costMicros: 12, input: 1, output: 1 } });
  });
});

describe('RedisLedger timeoutMs', () => {
  it('is whole milliseconds from 1 to 2^31-1 (default 500)', () => {
    const client = async () => ({}) as never;
    for (const bad of [0, -1, 1.5, 2 ** 31, Number.NaN, '500']) {
      expect(() => new RedisLedger(client, 'p', { timeoutMs: bad as number })).toThrow(/timeoutMs/);
    }
    expect(() => new RedisLedger(client, 'p', { timeoutMs: 1 })).not.toThrow();
    expect(() => new RedisLedger(client, 'p', { timeoutMs: 2 ** 31 - 1 })).not.toThrow();
    expect(() => new RedisLedger(client, 'p')).not.toThrow();
  });
});
