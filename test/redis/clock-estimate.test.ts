import { RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { decode } from '../helpers/stored-bucket.js';

const LAG_MS = 300;

/**
 * A client whose calls that read the server's TIME are answered `LAG_MS` late, as after a slow
 * network or a stalled event loop: the store learns a clock estimate that lags the server by
 * about that much.
 */
function lateClockReplies(client: Redis): Redis {
  return new Proxy(client, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (typeof value !== 'function') return value;
      if (name !== 'evalsha' && name !== 'eval') return value.bind(target);
      return async (...args: unknown[]) => {
        const reply = await value.apply(target, args);
        if (String(args[3]).endsWith('t')) await new Promise((r) => setTimeout(r, LAG_MS));
        return reply;
      };
    },
  });
}

describe.skipIf(!redis.server)('RedisStore with an estimated server clock', () => {
  const clients = [new Redis(REDIS_URL), new Redis(REDIS_URL)] as const;
  afterAll(() => Promise.all(clients.map((c) => c.quit())));

  it('a process whose estimate lags cannot hand tokens to one whose estimate does not', async () => {
    const [a, b] = clients;
    const lagging = new RedisStore({ client: lateClockReplies(a), denialCache: false });
    const accurate = new RedisStore({ client: b, denialCache: false });
    const options = { max: 10, window: '1s', prefix: uniquePrefix('lag'), name: 'lag' } as const;
    const slow = new RateLimiter({ ...options, store: lagging });
    const fast = new RateLimiter({ ...options, store: accurate });
    await slow.consume('warm-up');
    await fast.consume('warm-up');

    const started = performance.now();
    let admitted = 0;
    // The lagging process drains a new bucket, then the other one asks at once.
    for (let i = 0; i < 10; i++) if ((await slow.consume('k')).allowed) admitted += 1;
    for (let i = 0; i < 10; i++) if ((await fast.consume('k')).allowed) admitted += 1;
    const elapsedMs = performance.now() - started;
    // A true bucket: 10, plus what it refilled meanwhile (10 per second).
    expect(admitted).toBeLessThanOrEqual(10 + Math.floor((elapsedMs * 10) / 1000));
    expect(admitted).toBeGreaterThanOrEqual(10);

    // The new bucket was stamped no earlier than the server's clock, not with the lagging estimate.
    const [seconds, micros] = await b.time();
    const serverNow = Number(seconds) * 1000 + Number(micros) / 1000;
    const state = decode((await b.getBuffer(slow.keyFor('k'))) as Buffer, 1);
    expect(state.since).toBeGreaterThan(serverNow - elapsedMs - LAG_MS / 2);
  });
});
