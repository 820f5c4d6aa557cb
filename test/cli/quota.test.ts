import { createServer, type Server, type Socket } from 'node:net';
import { RateLimiter, RedisQuotaSource, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { ensureBuilt, runCli } from './run-cli.js';

beforeAll(() => ensureBuilt());

/** Issue 16 item 2: `npx tollgate quota set|get|delete <tenant>`, read by limiters with a RedisQuotaSource. */
describe('tollgate quota', () => {
  it('usage errors, before connecting', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['quota'], /quota takes set, get or delete/],
      [['quota', 'set', 'acme', '--max', '10'], /needs --max and --window/],
      [['quota', 'set', 'acme', '--max', '0', '--window', '1m'], /max/],
      [['quota', 'set', 'acme', '--max', '10', '--window', 'soon'], /--window/],
      [['quota', 'get', 'acme', '--max', '10'], /go with quota set/],
      [['quota', 'get', 'a b'], /a tenant is/],
    ];
    for (const [args, pattern] of cases) {
      const result = await runCli([...args, '--redis-url', 'redis://127.0.0.1:1']);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(pattern);
    }
  });

  it('a Redis that never answers: exit 3 within --timeout', async () => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const result = await runCli([
        'quota',
        'get',
        'acme',
        '--redis-url',
        `redis://127.0.0.1:${port}`,
        '--timeout',
        '300',
      ]);
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/^tollgate: .*300 ms/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  const targets = [
    { name: 'Redis', enabled: redis.server, url: REDIS_URL },
    { name: 'Redis Cluster', enabled: redis.clusterNodes.length > 0, url: `redis://${redis.clusterNodes[0]}` },
  ];
  describe.each(targets)('on $name', (target) => {
    const client = target.enabled ? new Redis(REDIS_URL) : undefined;
    afterAll(() => client?.disconnect());

    it.skipIf(!target.enabled)('set, get and delete a quota; a limiter reading it applies it', async () => {
      const prefix = uniquePrefix('cliquota');
      const common = ['--redis-url', target.url, '--prefix', prefix];
      const set = await runCli([
        'quota',
        'set',
        'acme',
        '--max',
        '1000',
        '--window',
        '1m',
        '--burst',
        '2000',
        ...common,
      ]);
      expect({ code: set.code, stderr: set.stderr }).toEqual({ code: 0, stderr: '' });
      expect(set.stdout).toBe('acme: 1000 per 60000 ms, burst 2000\n');
      const got = await runCli(['quota', 'get', 'acme', '--json', ...common]);
      expect(JSON.parse(got.stdout)).toEqual({
        tenant: 'acme',
        quota: { max: '1000', window: '60000', burst: '2000' },
      });

      const redisClient =
        target.name === 'Redis'
          ? new Redis(REDIS_URL)
          : await import('../helpers/redis.js').then((m) => m.clusterClient());
      const store = new RedisStore({ client: redisClient });
      try {
        const limiter = new RateLimiter({
          name: 'api',
          prefix,
          max: 10,
          window: '1m',
          store,
          quotas: { source: new RedisQuotaSource({ store, prefix }) },
        });
        const d = await limiter.consume('acme');
        expect([d.limit, d.remaining]).toEqual([2000, 1999]);
        expect((await limiter.consume('globex')).limit).toBe(10);
      } finally {
        await store.close();
        redisClient.disconnect();
      }

      const deleted = await runCli(['quota', 'delete', 'acme', ...common]);
      expect(deleted.stdout).toBe('deleted acme\n');
      expect((await runCli(['quota', 'get', 'acme', ...common])).stdout).toBe(
        'acme: no quota (the configured limits apply)\n',
      );
    });
  });
});
