import { type PolicyOptions, RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { encode } from '../helpers/stored-bucket.js';

/**
 * Issue 13 item 10: a stored value the script cannot decode heals. Before, NaN doubles, an old
 * hash holding `nan` or a time of 1e308 gave a protocol error (or a fallback) on every decision
 * for that key, forever, and the key had no TTL. Now such a value is deleted and taken as full
 * buckets, counted (`store.corruptBuckets`) and logged, and whatever is written next has a TTL.
 */
type Plant = (client: Redis, key: string, spec: string, serverMs: number) => Promise<unknown>;

const ONE: PolicyOptions[] = [{ max: 5, window: '1h' }];
const TWO: PolicyOptions[] = [
  { max: 5, window: '1h' },
  { max: 100, window: '1d' },
];

const string =
  (state: (ms: number) => { expires: number; since: number; tokens: number[] }): Plant =>
  (client, key, spec, ms) =>
    client.set(key, encode({ ...state(ms), spec }));

/** [label, policies, plant, counted]: counted when the value is recognisably not one tollgate wrote. */
const poisons: [string, PolicyOptions[], Plant, boolean][] = [
  ['NaN time', ONE, string((ms) => ({ expires: ms + 1e6, since: Number.NaN, tokens: [1] })), true],
  ['NaN tokens', ONE, string((ms) => ({ expires: ms + 1e6, since: ms, tokens: [Number.NaN] })), true],
  ['expiry 1e300', ONE, string((ms) => ({ expires: 1e300, since: ms, tokens: [5] })), false],
  ['expiry 1e300, two policies', TWO, string((ms) => ({ expires: 1e300, since: ms, tokens: [5, 100] })), false],
  ['NaN expiry', ONE, string((ms) => ({ expires: Number.NaN, since: ms, tokens: [1] })), true],
  ['infinite tokens', ONE, string((ms) => ({ expires: ms + 1e6, since: ms, tokens: [-Infinity] })), true],
  ['time 1e308', ONE, string(() => ({ expires: 1e308, since: 1e308, tokens: [0] })), true],
  ['negative time', ONE, string((ms) => ({ expires: ms + 1e6, since: -1, tokens: [0] })), true],
  ['NaN tokens, two policies', TWO, string((ms) => ({ expires: ms + 1e6, since: ms, tokens: [0, Number.NaN] })), true],
  ['time 1e308, two policies', TWO, string(() => ({ expires: 1e308, since: 1e308, tokens: [0, 0] })), true],
  ['old hash with nan', ONE, (c, k, spec) => c.hset(k, { ts: 'nan', [spec]: 'nan' }), true],
  ['old hash with ts=1e308', ONE, (c, k, spec) => c.hset(k, { ts: '1e308', [spec]: '0' }), true],
  [
    'old hash with text',
    TWO,
    (c, k, spec) => c.hset(k, { ts: 'yesterday', [spec.split(',')[0] as string]: '0' }),
    true,
  ],
  ['old hash without ts', ONE, (c, k, spec) => c.hset(k, { [spec]: '0' }), true],
  ['too short', ONE, (c, k) => c.set(k, 'xxxxx'), true],
  ['empty', TWO, (c, k) => c.set(k, ''), true],
  [
    'one double missing',
    ONE,
    (c, k, spec, ms) => c.set(k, encode({ expires: ms + 1e6, since: ms, tokens: [], spec })),
    false,
  ],
  ['a list', ONE, (c, k) => c.rpush(k, 'a', 'b'), true],
  ['a set', TWO, (c, k) => c.sadd(k, 'a'), true],
  ['a sorted set', ONE, (c, k) => c.zadd(k, 1, 'a'), true],
];

describe.skipIf(!redis.server)('RedisStore heals poisoned values', () => {
  const client = new Redis(REDIS_URL);
  afterAll(() => client.quit());

  const serverMs = async () => Number((await client.time())[0]) * 1000;

  for (const [label, policies, plant, counted] of poisons) {
    it(`${label}: the next decision is a full bucket's, and the key gets a TTL`, async () => {
      const lines: string[] = [];
      const log = (_f: object, m: string) => lines.push(m);
      const store = new RedisStore({ client, logger: { info: log, warn: log, error: log } });
      const limiter = new RateLimiter({ policies, prefix: uniquePrefix('poison'), name: 'p', store });
      const key = limiter.keyFor('k');
      await plant(client, key, limiter.policies.map((p) => p.id).join(','), await serverMs());
      expect(await client.pttl(key)).toBe(-1);

      const decision = await limiter.consume('k');
      expect(decision).toMatchObject({ allowed: true, source: 'store', remaining: 4 });
      expect(await client.type(key)).toBe('string');
      const ttl = await client.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3_600_000 + 60_000 + 1_000);
      // And it counts down from there like any bucket.
      expect(await limiter.consume('k')).toMatchObject({ allowed: true, source: 'store', remaining: 3 });
      expect(store.corruptBuckets).toBe(counted ? 1 : 0);
      expect(lines.filter((l) => l.includes('cannot decode'))).toHaveLength(counted ? 1 : 0);
    });
  }

  it('a peek of a poisoned key answers full buckets and removes the value', async () => {
    const store = new RedisStore({ client });
    const limiter = new RateLimiter({ max: 5, window: '1h', prefix: uniquePrefix('poison-peek'), store });
    const key = limiter.keyFor('k');
    await client.set(
      key,
      encode({ expires: Number.NaN, since: Number.NaN, tokens: [Number.NaN], spec: limiter.policies[0]?.id as string }),
    );
    expect(await limiter.peek('k')).toMatchObject({ allowed: true, source: 'store', remaining: 5 });
    expect(await client.exists(key)).toBe(0);
    expect(store.corruptBuckets).toBe(1);
  });

  it('many poisoned keys: every one counted, one log line', async () => {
    const lines: string[] = [];
    const fields: object[] = [];
    const log = (f: object, m: string) => {
      fields.push(f);
      lines.push(m);
    };
    const store = new RedisStore({ client, logger: { info: log, warn: log, error: log } });
    const limiter = new RateLimiter({ max: 5, window: '1h', prefix: uniquePrefix('poison-many'), store });
    for (let i = 0; i < 20; i++) await client.set(limiter.keyFor(`k${i}`), 'garbage');
    for (let i = 0; i < 20; i++) expect((await limiter.consume(`k${i}`)).remaining).toBe(4);
    expect(store.corruptBuckets).toBe(20);
    expect(lines.filter((l) => l.includes('cannot decode'))).toHaveLength(1);
    // The line names the limiter, never the client's key.
    expect(JSON.stringify(fields)).not.toMatch(/:k\d+/);
    expect(fields[0]).toMatchObject({ limiter: limiter.keyFor('k0').slice(0, -2) });
  });

  it('the warning names the limiter, not the client, even for a client key holding a colon', async () => {
    const fields: Record<string, unknown>[] = [];
    const log = (f: object) => fields.push(f as Record<string, unknown>);
    const store = new RedisStore({ client, logger: { info: log, warn: log, error: log } });
    const limiter = new RateLimiter({ max: 5, window: '1h', name: 'api', prefix: uniquePrefix('poison-log'), store });
    await client.set(limiter.keyFor('user:42'), 'garbage');
    await limiter.consume('user:42');
    expect(fields).toHaveLength(1);
    expect(fields[0]?.limiter).toBe(limiter.keyFor('user:42').slice(0, -'user:42'.length));
    // Not '42' alone: the prefix holds the pid and random digits, which may contain it.
    expect(Object.keys(fields[0] ?? {}).sort()).toEqual(['corruptBuckets', 'limiter', 'suppressed']);
    expect(JSON.stringify(fields)).not.toContain('user:42');
  });
});
