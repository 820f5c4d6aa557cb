import { RateLimiter, RedisStore } from '@tollgate/core';
import type { Cluster, Redis } from 'ioredis';
import { Redis as RedisClient } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterClient, REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { ensureBuilt, runCli } from './run-cli.js';

beforeAll(() => ensureBuilt());

/** More limiters than Node's default of 10 listeners: a listener added per limiter read would warn. */
const LIMITERS = 15;

/** Every command, in an order that leaves something for each to find; `reset --all` last. */
const COMMANDS: ReadonlyArray<readonly string[]> = [
  ['--help'],
  ['--version'],
  ['status', 'k'],
  ['status', 'k', '--name', 'l3', '--json'],
  ['status', 'k', '--max', '7', '--window', '1h'],
  ['reset', 'k', '--name', 'l4'],
  ['reset', 'k', '--name', 'l4'],
  ['usage', '--days', '31'],
  ['reset', 'k', '--all'],
  ['reset', 'k', '--all'],
];

async function seed(client: Redis | Cluster, prefix: string): Promise<void> {
  const store = new RedisStore({ client });
  for (let i = 0; i < LIMITERS; i++) {
    await new RateLimiter({ prefix, store, name: `l${i}`, max: 5, window: '1h' }).consume('k');
  }
  await new RateLimiter({ prefix, store, max: 7, window: '1h' }).consume('k');
  await store.close();
}

// Node's MaxListenersExceededWarning (or any other warning) on stderr reads as a failure to an
// operator and to scripts that watch stderr: every command, on a key many limiters hold, prints
// nothing there but its own failures.
describe.skipIf(!redis.server)('tollgate CLI: no warning on stderr', () => {
  const targets: Array<{ name: string; url: string; client: Redis | Cluster; prefix: string }> = [];

  beforeAll(async () => {
    targets.push({
      name: 'Redis',
      url: REDIS_URL,
      client: new RedisClient(REDIS_URL),
      prefix: uniquePrefix('cli-warn'),
    });
    if (redis.clusterNodes.length > 0) {
      const url = `redis://${redis.clusterNodes[0]}`;
      targets.push({ name: 'Redis Cluster', url, client: await clusterClient(), prefix: uniquePrefix('cli-warn') });
    }
    for (const t of targets) await seed(t.client, t.prefix);
  });
  afterAll(() => {
    for (const t of targets) t.client.disconnect();
  });

  it(`every command, with a key ${LIMITERS + 1} limiters hold, on Redis and on a Redis Cluster`, async () => {
    expect(targets.length).toBeGreaterThan(0);
    for (const { name, url, prefix } of targets) {
      for (const command of COMMANDS) {
        const options = command[0]?.startsWith('--') ? [] : ['--redis-url', url, '--prefix', prefix];
        const result = await runCli([...command, ...options]);
        expect({ on: name, command, code: result.code, stderr: result.stderr }).toEqual({
          on: name,
          command,
          code: 0,
          stderr: '',
        });
      }
    }
  });
});
