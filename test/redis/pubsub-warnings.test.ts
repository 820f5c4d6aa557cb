import { RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisProcess, redis } from '../helpers/redis.js';

/**
 * Issue 13 item 11: a Pub/Sub failure says what happened. Before, a plain Redis restart was
 * reported as "Pub/Sub … failed (an ACL must allow PUBLISH and SUBSCRIBE)" with `write EPIPE`,
 * once per store and never again, so a real ACL problem later went unlogged.
 */
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 10));
}

/**
 * A store whose client is real, but whose reset subscription is opened at the worst moment: the
 * server is killed (and restarted) just as the store opens its subscriber connection, as happens
 * when Redis restarts under traffic.
 */
async function setup(restartOnSubscribe = false) {
  const server = await RedisProcess.start();
  cleanups.push(() => server.stop());
  const client = new Redis(server.url, { retryStrategy: () => 50, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  cleanups.push(() => client.disconnect());
  const admin = new Redis(server.url, { retryStrategy: () => 50 });
  admin.on('error', () => {});
  cleanups.push(() => admin.disconnect());
  let restart = restartOnSubscribe;
  const storeClient = new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (prop === 'duplicate' && restart) {
        return () => {
          restart = false;
          server.killSync();
          const subscriber = target.duplicate();
          setTimeout(() => server.start(), 300);
          return subscriber;
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  const log = (fields: object, message: string) => lines.push({ fields: fields as Record<string, unknown>, message });
  const store = new RedisStore({ client: storeClient, logger: { info: log, warn: log, error: log } });
  cleanups.push(() => store.close());
  const limiter = new RateLimiter({ max: 1, window: '1h', name: 'login', store });
  await limiter.consume('k');
  await limiter.consume('k');
  const pubsubLines = () => lines.filter((l) => l.fields.channel === RedisStore.resetChannel);
  return { server, client, admin, store, limiter, pubsubLines };
}

describe.skipIf(!redis.binary)('RedisStore Pub/Sub warnings', () => {
  it('a restart is reported as a lost connection, not as an ACL problem', async () => {
    const { client, pubsubLines } = await setup(true);
    await until(() => pubsubLines().length > 0);
    await until(() => client.status === 'ready');
    const lines = pubsubLines();
    console.log(lines.map((l) => `${l.message} (${String(l.fields.error)})`).join('\n'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line.message).toMatch(/connection .* was lost/);
      expect(line.message).not.toMatch(/ACL/);
    }
  });

  it('an ACL without PUBLISH is reported as such, also after an earlier warning', async () => {
    const { client, admin, store, limiter, pubsubLines } = await setup(true);
    await until(() => pubsubLines().length > 0);
    expect(pubsubLines().length).toBeGreaterThan(0);
    const before = pubsubLines().length;
    await until(() => client.status === 'ready' && admin.status === 'ready');

    await admin.call('ACL', 'SETUSER', 'default', '-publish');
    await limiter.consume('k');
    // A refund must be announced: the user may not PUBLISH.
    await store.adjust(limiter.keyFor('k'), limiter.policies, [-1]);
    await until(() => pubsubLines().length > before);
    const acl = pubsubLines().slice(before);
    expect(acl).toHaveLength(1);
    expect(acl[0]?.message).toMatch(/an ACL must allow PUBLISH and SUBSCRIBE/);
    expect(String(acl[0]?.fields.error)).toMatch(/^NOPERM/);
  });
});
