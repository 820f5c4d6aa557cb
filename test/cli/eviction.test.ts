import { RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisProcess, redis } from '../helpers/redis.js';
import { ensureBuilt, runCli } from './run-cli.js';

beforeAll(() => ensureBuilt());

/** A server of the test's own with `args`, holding one bucket of the limiter "login". */
async function serverWith(args: readonly string[]): Promise<RedisProcess> {
  const server = await RedisProcess.start(args);
  const client = new Redis(server.url);
  const store = new RedisStore({ client });
  await new RateLimiter({ store, name: 'login', max: 5, window: '15m' }).consume('203.0.113.7');
  await store.close();
  client.disconnect();
  return server;
}

const status = (url: string, ...extra: string[]) =>
  runCli(['status', '203.0.113.7', '--ip', '--name', 'login', '--redis-url', url, ...extra]);

// Under maxmemory, allkeys-* evicts a drained client's bucket and the client starts afresh.
describe.skipIf(!redis.binary)('tollgate status warns when Redis can evict live buckets', () => {
  const servers: RedisProcess[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });
  const start = async (args: readonly string[]) => {
    const server = await serverWith(args);
    servers.push(server);
    return server;
  };

  it.each(['allkeys-lru', 'allkeys-lfu', 'allkeys-random'])(
    'maxmemory-policy %s: one warning line naming it and the fix, the status as usual',
    async (policy) => {
      const server = await start(['--maxmemory-policy', policy]);
      for (const json of [false, true]) {
        const result = await status(server.url, ...(json ? ['--json'] : []));
        expect(result.code).toBe(0);
        expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(result.stderr).toMatch(
          new RegExp(
            `^tollgate: warning: Redis at ${server.url}/? has maxmemory-policy ${policy}: .*evict live buckets.*CONFIG SET maxmemory-policy volatile-lru \\(or noeviction\\)\\n$`,
          ),
        );
        if (json) expect(JSON.parse(result.stdout)).toMatchObject({ stored: true, policies: [{ remaining: 4 }] });
        else expect(result.stdout).toMatch(/5-per-15m\s+5\s+4\s/);
      }
    },
  );

  it.each(['noeviction', 'volatile-lru', 'volatile-ttl'])('maxmemory-policy %s: no warning', async (policy) => {
    const server = await start(['--maxmemory-policy', policy]);
    const result = await status(server.url);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('CONFIG forbidden by an ACL: says it could not check, and goes on', async () => {
    const server = await start(['--maxmemory-policy', 'allkeys-lru']);
    const admin = new Redis(server.url);
    await admin.call('ACL', 'SETUSER', 'ops', 'on', '>s3cret', '~*', '&*', '+@all', '-config');
    admin.disconnect();
    const url = `redis://ops:s3cret@127.0.0.1:${server.port}`;
    const result = await status(url);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /^tollgate: warning: could not check the eviction policy of Redis at redis:\/\/ops:\*\*\*@127\.0\.0\.1:\d+\/? \(CONFIG GET maxmemory-policy: NOPERM .*\): it must be noeviction or volatile-\*.*\n$/,
    );
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).not.toContain('s3cret');
    expect(result.stdout).toMatch(/5-per-15m\s+5\s+4\s/);
  });

  it('CONFIG renamed away (as managed Redis does): says it could not check, and goes on', async () => {
    const server = await start(['--rename-command', 'CONFIG', '']);
    const result = await status(server.url);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^tollgate: warning: could not check the eviction policy .*unknown command.*\n$/);
    expect(result.stdout).toMatch(/5-per-15m\s+5\s+4\s/);
  });
});
