import { RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { decode } from '../helpers/stored-bucket.js';

function collectingLogger() {
  const lines: string[] = [];
  const log = (_fields: object, message: string) => lines.push(message);
  return { lines, logger: { info: log, warn: log, error: log } };
}

describe.skipIf(!redis.server)('RedisStore on a real Redis', () => {
  const client = new Redis(REDIS_URL);
  afterAll(() => client.quit());

  it('keeps one string per client key that expires once its buckets would be full (plus slack)', async () => {
    const prefix = uniquePrefix('ttl');
    const limiter = new RateLimiter({ max: 10, window: '10s', prefix, store: new RedisStore({ client }) });
    await limiter.consume('k', 4);
    const keys = await client.keys(`${prefix}:*`);
    expect(keys).toEqual([`${prefix}:p:10-10000-10:k`]);
    const ttl = await client.pttl(keys[0] as string);
    // 4 tokens at 1 per second: full again in about 4 s; then slack of one full refill (10 s, at
    // most a minute) so a busy key is not re-timed on every call; and a few ms because a new
    // bucket is stamped at the latest the server's clock can be.
    expect(ttl).toBeGreaterThan(3000 + 10_000);
    expect(ttl).toBeLessThanOrEqual(4000 + 10_000 + 10);
    const state = decode((await client.getBuffer(keys[0] as string)) as Buffer, 1);
    expect(state).toMatchObject({ spec: '10-10000-10', tokens: [6] });
  });

  it('reads the clock from Redis, not from the app', async () => {
    const { lines, logger } = collectingLogger();
    const store = new RedisStore({ client, logger });
    const limiter = new RateLimiter({ max: 5, window: '1h', prefix: uniquePrefix('clock'), store });
    await limiter.consume('k');
    await limiter.consume('k');
    const [seconds] = (await client.time()) as [string | number, string | number];
    const { since } = decode((await client.getBuffer(limiter.keyFor('k'))) as Buffer, 1);
    expect(Math.abs(since - Number(seconds) * 1000)).toBeLessThan(5000);
    expect(lines).toEqual([]);
  });

  it('carries over buckets an older tollgate kept in a hash; a named limiter whose policies change starts on a key of its own', async () => {
    const prefix = uniquePrefix('migrate');
    const store = new RedisStore({ client });
    const login = new RateLimiter({ max: 5, window: '1h', prefix, name: 'login', store });
    const [seconds] = (await client.time()) as [string | number, string | number];
    await client.hset(login.keyFor('k'), { ts: String(Number(seconds) * 1000), '5-3600000-5': '2' });
    expect((await login.consume('k')).remaining).toBe(1);
    expect(await client.type(login.keyFor('k'))).toBe('string');

    // A second policy joins the named limiter (a new release, so another process's store): the
    // key carries the policies, so the new set starts full on a key of its own.
    const both = new RateLimiter({
      policies: [
        { max: 100, window: '1d' },
        { max: 5, window: '1h' },
      ],
      prefix,
      name: 'login',
      store: new RedisStore({ client }),
    });
    expect(both.keyFor('k')).not.toBe(login.keyFor('k'));
    expect((await both.consume('k')).policies.map((p) => p.remaining)).toEqual([99, 4]);
  });

  it('loads the script again after SCRIPT FLUSH (EVALSHA, then EVAL on NOSCRIPT)', async () => {
    const limiter = new RateLimiter({
      max: 3,
      window: '1m',
      prefix: uniquePrefix('flush'),
      store: new RedisStore({ client }),
    });
    expect((await limiter.consume('k')).remaining).toBe(2);
    await client.script('FLUSH');
    expect((await limiter.consume('k')).remaining).toBe(1);
    expect((await limiter.consume('k')).remaining).toBe(0);
    expect((await limiter.consume('k')).allowed).toBe(false);
  });

  it('peeks without consuming, resets, and keeps limiters with different names apart', async () => {
    const prefix = uniquePrefix('names');
    const store = new RedisStore({ client });
    const a = new RateLimiter({ max: 2, window: '1h', prefix, store, name: 'a' });
    const b = new RateLimiter({ max: 2, window: '1h', prefix, store, name: 'b' });
    await a.consume('k');
    await a.consume('k');
    expect((await a.peek('k')).remaining).toBe(0);
    expect((await a.peek('k')).remaining).toBe(0);
    expect((await b.peek('k')).remaining).toBe(2);
    await a.reset('k');
    expect((await a.peek('k')).remaining).toBe(2);
    expect(await client.exists(a.keyFor('k'))).toBe(0);
  });

  it('connects from a URL, and closes what it opened', async () => {
    const store = new RedisStore({ url: REDIS_URL });
    const limiter = new RateLimiter({ max: 1, window: '1h', prefix: uniquePrefix('url'), store });
    expect((await limiter.consume('k')).allowed).toBe(true);
    expect((await limiter.consume('k')).allowed).toBe(false);
    await store.close();
  });

  it('hashes hostile keys before they reach Redis', async () => {
    const prefix = uniquePrefix('hostile');
    const limiter = new RateLimiter({ max: 1, window: '1h', prefix, store: new RedisStore({ client }) });
    const hostile = 'x{slot}\r\nFLUSHALL evil key with spaces';
    await limiter.consume(hostile);
    const keys = await client.keys(`${prefix}:*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain('slot');
    expect(keys[0]).not.toContain(' ');
    expect((await limiter.consume(hostile)).allowed).toBe(false);
  });
});
