import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AppProcess, burst } from '../helpers/app-process.js';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';

/**
 * Separate Node processes, each an Express app with its own ioredis client, share one limit
 * through Redis: the fleet admits exactly the policy, whatever the interleaving or the clocks.
 */
describe.skipIf(!redis.server)('several app processes share one limit through Redis', () => {
  const apps: AppProcess[] = [];
  const client = new Redis(REDIS_URL);
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
  });
  afterAll(() => client.quit());

  async function fleet(env: Record<string, string>, offsets: number[]) {
    const started = await Promise.all(offsets.map((offset) => AppProcess.start(env, offset)));
    apps.push(...started);
    return started;
  }

  it('two processes, a limit of 50, 400 concurrent requests: exactly 50 admitted', async () => {
    const env = { REDIS_URL, PREFIX: uniquePrefix('two'), MAX: '50', WINDOW: '1h' };
    const [a, b] = await fleet(env, [0, 0]);
    const statuses = await burst([a?.url, b?.url] as string[], '/hit', 400);
    const admitted = statuses.filter((s) => s === 200).length;
    console.log(`two-process exact admission: ${admitted} of 400 admitted for a limit of 50`);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(admitted).toBe(50);
  });

  it('a process whose clock is 60 s ahead admits exactly the same (Redis TIME decides)', async () => {
    const env = { REDIS_URL, PREFIX: uniquePrefix('skew'), MAX: '50', WINDOW: '1h' };
    const [a, b] = await fleet(env, [0, 60_000]);
    // The harness must really skew the second process's clock.
    const clockA = (await (await fetch(`${a?.url}/clock`)).json()) as { now: number };
    const clockB = (await (await fetch(`${b?.url}/clock`)).json()) as { now: number };
    expect(clockB.now - clockA.now).toBeGreaterThan(55_000);
    const statuses = await burst([a?.url, b?.url] as string[], '/hit', 400);
    const admitted = statuses.filter((s) => s === 200).length;
    console.log(`clock skew 60 s, server clock: ${admitted} of 400 admitted for a limit of 50`);
    expect(admitted).toBe(50);
  });

  it('the same skew with app clocks over-admits: the skew test has teeth', async () => {
    // A minute's window, so a clock a minute ahead sees a whole bucket's refill the server never saw.
    const env = { REDIS_URL, PREFIX: uniquePrefix('skewapp'), MAX: '50', WINDOW: '1m', APP_CLOCK: '1' };
    const [a, b] = await fleet(env, [0, 60_000]);
    // In order, so the outcome does not depend on how the processes interleave: the slow clock
    // drains the bucket, then the fast clock finds it full again.
    let admitted = 0;
    for (let i = 0; i < 120; i++) {
      const res = await fetch(`${i < 60 ? a?.url : b?.url}/hit`);
      await res.arrayBuffer();
      if (res.status === 200) admitted += 1;
    }
    console.log(`clock skew 60 s, app clocks, one after the other: ${admitted} of 120 admitted for a limit of 50`);
    expect(admitted).toBeGreaterThan(50);
  });
});
