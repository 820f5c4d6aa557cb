import { RateLimiter, RedisStore } from '@tollgate/core';
import { ipKey, tokenKey } from '@tollgate/core/adapter';
import { ClaudeRateLimiter } from '@tollgate/llm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterClient, freePort, REDIS_URL, RedisProcess, redis, uniquePrefix } from '../helpers/redis.js';
import { ensureBuilt, runCli } from './run-cli.js';

beforeAll(() => ensureBuilt());

/** The JSON a command printed; on failure, the assertion shows its stderr. */
function json(result: { code: number | null; stdout: string; stderr: string }) {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(result.stdout);
}

/** One line on stderr, nothing on stdout: how every failure looks. */
function expectOneLineError(result: { stdout: string; stderr: string }, pattern: RegExp) {
  expect(result.stdout).toBe('');
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/^tollgate: /);
  expect(result.stderr).toMatch(pattern);
}

describe('tollgate CLI: arguments and connection errors (no Redis needed)', () => {
  it('--help and --version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: tollgate <command>/);
    for (const word of ['status <key>', 'reset <key>', 'usage', '--redis-url', '--json', '--name', '--max', '--days']) {
      expect(help.stdout).toContain(word);
    }
    const version = await runCli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    [[], /no command given/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['status'], /status needs the key/],
    [['status', 'k', '--name', 'a'], /which Redis\? Give --redis-url or set REDIS_URL/],
    [['status', 'k', '--redis-url', 'redis://h', '--bogus'], /Unknown option '--bogus'/],
    [['usage', '--redis-url', 'redis://h', '--name', 'a'], /--name does not apply to usage/],
    [['usage', '--redis-url', 'redis://h', '--days', '32'], /--days "32" is not a whole number from 1 to 31/],
    [['status', 'k', '--redis-url', 'redis://h', '--name', 'a', '--max', '5', '--window', '1m'], /not both/],
    [['status', 'k', '--redis-url', 'redis://h', '--max', '5'], /--max and --window together/],
    [['status', 'k', '--redis-url', 'redis://h', '--max', '5', '--window', '1 min'], /--window "1 min"/],
    [['status', 'k', '--redis-url', 'redis://h', '--name', 'a b'], /--name is "a b"; accepted: 1 to 64 letters/],
    [['reset', 'k', '--redis-url', 'redis://h'], /which limiter\? Give --name/],
    [['status', 'nope', '--redis-url', 'redis://h', '--ip', '--name', 'a'], /"nope" is not an IP address/],
    [['status', 'k', '--redis-url', 'redis://h', '--timeout', '0', '--name', 'a'], /--timeout "0"/],
    [
      ['usage', '--redis-url', 'redis://h', '--timeout', '1.5'],
      /--timeout "1\.5" is not a whole number from 1 to 600000/,
    ],
    [['usage', '--redis-url', 'redis://h', '--timeout', '3s'], /--timeout "3s" is not a whole number/],
    [['reset', 'k', '--all', '--redis-url', 'redis://h', '--timeout', '600001'], /--timeout "600001"/],
  ])('usage error for %j: exit 2, one line', async (args, pattern) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expectOneLineError(result, pattern);
  });

  it.each([['not a url'], ['http://127.0.0.1:6379'], ['redis://'], ['redis://127.0.0.1:6379/notadb']])(
    'a bad Redis URL %j: exit 2 before connecting',
    async (url) => {
      const result = await runCli(['status', '1.2.3.4', '--name', 'api', '--redis-url', url]);
      expect(result.code).toBe(2);
      expectOneLineError(result, /is not a Redis URL|must be a database number/);
    },
  );

  it('REDIS_URL is read when --redis-url is absent', async () => {
    const result = await runCli(['status', '1.2.3.4', '--name', 'api'], { env: { REDIS_URL: 'ftp://x' } });
    expect(result.code).toBe(2);
    expectOneLineError(result, /"ftp:\/\/x" is not a Redis URL/);
  });

  it('an unreachable Redis: exit 3 at once, one line, the password never shown', async () => {
    const port = await freePort();
    const result = await runCli([
      'status',
      '1.2.3.4',
      '--name',
      'api',
      '--redis-url',
      `redis://ops:hunter2@127.0.0.1:${port}`,
    ]);
    expect(result.code).toBe(3);
    expectOneLineError(
      result,
      new RegExp(`cannot reach Redis at redis://ops:\\*\\*\\*@127\\.0\\.0\\.1:${port}.*connection refused`),
    );
    expect(result.stderr).not.toContain('hunter2');
    expect(result.ms).toBeLessThan(5_000);
  });

  it('an unknown host: exit 3, one line', async () => {
    const result = await runCli(['usage', '--redis-url', 'redis://no-such-host.invalid:6379']);
    expect(result.code).toBe(3);
    expectOneLineError(result, /cannot reach Redis at redis:\/\/no-such-host\.invalid:6379.*host not found/);
  });
});

describe.skipIf(!redis.server || !redis.binary)('tollgate CLI: a Redis that hangs or wants a password', () => {
  it('a missing or wrong password: exit 1, one line that says so', async () => {
    const server = await RedisProcess.start();
    try {
      // Set after start: RedisProcess waits for a PING that a password would refuse.
      const admin = new Redis(server.url);
      await admin.config('SET', 'requirepass', 's3cret');
      admin.disconnect();
      const url = new URL(server.url);
      const none = await runCli(['usage', '--redis-url', url.href]);
      expect(none.code).toBe(1);
      expectOneLineError(none, /requires a password: give it in the URL/);
      url.password = 'wrong';
      const wrong = await runCli(['usage', '--redis-url', url.href]);
      expect(wrong.code).toBe(1);
      expectOneLineError(wrong, /redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ refused the user name or password/);
      expect(wrong.stderr).not.toContain('wrong');
      url.password = 's3cret';
      expect((await runCli(['usage', '--redis-url', url.href])).code).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it('gives up after --timeout instead of hanging', async () => {
    const server = await RedisProcess.start();
    try {
      server.pause();
      const result = await runCli([
        'status',
        '1.2.3.4',
        '--name',
        'api',
        '--redis-url',
        server.url,
        '--timeout',
        '500',
      ]);
      expect(result.code).toBe(3);
      expectOneLineError(result, /cannot reach Redis at .*: no answer within 500 ms/);
      expect(result.ms).toBeLessThan(5_000);
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!redis.server)('tollgate CLI on Redis: status and reset', () => {
  const prefix = uniquePrefix('cli');
  const base = ['--redis-url', REDIS_URL, '--prefix', prefix];
  let client: Redis;
  let store: RedisStore;

  beforeAll(async () => {
    client = new Redis(REDIS_URL);
    store = new RedisStore({ client });
  });
  afterAll(async () => {
    const keys = await client.keys(`${prefix}:*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  const limiter = (options: object) => new RateLimiter({ prefix, store, ...options } as never);

  it('status by --name: tokens left, time to full, whether a request would pass', async () => {
    const login = limiter({ name: 'login', max: 5, window: '15m' });
    for (let i = 0; i < 5; i++) await login.consume('203.0.113.7');
    const result = await runCli(['status', '203.0.113.7', '--name', 'login', ...base, '--json']);
    expect(result.code).toBe(0);
    const status = json(result);
    expect(status).toMatchObject({
      redisKey: login.keyFor('203.0.113.7'),
      limiter: { prefix, name: 'login', label: 'login' },
      stored: true,
      allowed: false,
      policies: [{ policy: '5-per-15m', limit: 5, remaining: 0 }],
    });
    // One token every 3 minutes; the CLI reads the same bucket the limiter does.
    expect(status.policies[0].retryAfterMs).toBeGreaterThan(170_000);
    expect(status.policies[0].retryAfterMs).toBeLessThanOrEqual(180_000);
    expect(status.policies[0].resetMs).toBeGreaterThan(890_000);

    const table = await runCli(['status', '203.0.113.7', '--name', 'login', ...base]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`${prefix}:n:login:5-900000-5:203.0.113.7  limiter "login"`);
    expect(table.stdout).toMatch(/5-per-15m\s+5\s+0\s/);
    expect(table.stdout).toMatch(/refused \(429\); retry in [23]m/);
  });

  it("status and reset by --name during a rollout that changed its policy: each policy's key, on its own", async () => {
    // Two pods, each with its store: the old one limits "rollout" to 2 per 15m, the new one to 50 per 1m.
    const older = new RateLimiter({ prefix, store, name: 'rollout', max: 2, window: '15m' });
    const newer = new RateLimiter({
      prefix,
      store: new RedisStore({ client }),
      name: 'rollout',
      max: 50,
      window: '1m',
    });
    await older.consume('203.0.113.20');
    await older.consume('203.0.113.20');
    await newer.consume('203.0.113.20');
    const keys = [older.keyFor('203.0.113.20'), newer.keyFor('203.0.113.20')];
    expect(new Set(keys).size).toBe(2);

    const found = json(await runCli(['status', '203.0.113.20', '--name', 'rollout', ...base, '--json']));
    expect(found).toHaveLength(2);
    const byKey = new Map(found.map((s: { redisKey: string }) => [s.redisKey, s]));
    expect(byKey.get(older.keyFor('203.0.113.20'))).toMatchObject({
      limiter: { name: 'rollout', label: 'rollout' },
      stored: true,
      allowed: false,
      policies: [{ policy: '2-per-15m', remaining: 0 }],
    });
    expect(byKey.get(newer.keyFor('203.0.113.20'))).toMatchObject({
      stored: true,
      allowed: true,
      policies: [{ policy: '50-per-1m', remaining: 49 }],
    });
    const table = await runCli(['status', '203.0.113.20', '--name', 'rollout', ...base]);
    for (const key of keys) expect(table.stdout).toContain(`${key}  limiter "rollout"`);

    // Another client of the name: nothing stored, so a full bucket (under one of the name's policies).
    const other = json(await runCli(['status', '203.0.113.21', '--name', 'rollout', ...base, '--json']));
    expect(other).toMatchObject({ stored: false, allowed: true, limiter: { name: 'rollout' } });
    expect([older.keyFor('203.0.113.21'), newer.keyFor('203.0.113.21')]).toContain(other.redisKey);

    const reset = json(await runCli(['reset', '203.0.113.20', '--name', 'rollout', ...base, '--json']));
    expect(reset.map((r: { redisKey: string; reset: boolean }) => [r.redisKey, r.reset])).toEqual(
      [...keys].sort().map((k) => [k, true]),
    );
    expect(await client.exists(...keys)).toBe(0);
    const again = await runCli(['reset', '203.0.113.20', '--name', 'rollout', ...base]);
    expect(again).toMatchObject({
      code: 0,
      stdout: `Nothing to reset: ${prefix}:n:rollout:*:203.0.113.20 holds no state (its buckets are already full).\n`,
    });
  });

  it('a named multi-policy limiter is read with its policies in the order of its key', async () => {
    const tiers = limiter({
      name: 'tiers',
      policies: [
        { max: 1000, window: '1d' },
        { max: 10, window: '1s' },
      ],
    });
    await tiers.consume('user:7');
    const order = ['1000-per-1d', '10-per-1s'];
    const named = json(await runCli(['status', 'user:7', '--name', 'tiers', ...base, '--json']));
    expect(named.redisKey).toBe(tiers.keyFor('user:7'));
    expect(named.policies.map((p: { policy: string }) => p.policy)).toEqual(order);
    const full = json(await runCli(['status', 'user:8', '--name', 'tiers', ...base, '--json']));
    expect(full).toMatchObject({ redisKey: tiers.keyFor('user:8'), stored: false });
    expect(full.policies.map((p: { policy: string }) => p.policy)).toEqual(order);
    const anywhere = json(await runCli(['status', 'user:7', ...base, '--json']));
    expect(anywhere.map((s: { redisKey: string }) => s.redisKey)).toEqual([tiers.keyFor('user:7')]);
    expect(anywhere[0].policies.map((p: { policy: string }) => p.policy)).toEqual(order);
  });

  it('status by policy (--max/--window, repeated for a multi-policy limiter), and with nothing stored', async () => {
    const api = limiter({
      policies: [
        { max: 10, window: '1s' },
        { max: 1000, window: '1d' },
      ],
    });
    for (let i = 0; i < 3; i++) await api.consume('user:42');
    const policy = ['--max', '10', '--window', '1s', '--max', '1000', '--window', '1d'];
    const result = await runCli(['status', 'user:42', ...policy, ...base, '--json']);
    expect(result.code).toBe(0);
    const status = json(result);
    expect(status.redisKey).toBe(api.keyFor('user:42'));
    expect(status.limiter.name).toBeNull();
    expect(status.policies.map((p: { policy: string }) => p.policy)).toEqual(['10-per-1s', '1000-per-1d']);
    expect(status.policies[1].remaining).toBe(997);
    expect(status.allowed).toBe(true);

    // The limiter exists, this key has no state: its buckets are full.
    const other = json(await runCli(['status', 'user:43', ...policy, ...base, '--json']));
    expect(other).toMatchObject({ stored: false, allowed: true });
    expect(other.policies.map((p: { remaining: number }) => p.remaining)).toEqual([10, 1000]);

    // A window given in milliseconds names the same limiter.
    const ms = ['--max', '10', '--window', '1000', '--max', '1000', '--window', '86400000'];
    expect(json(await runCli(['status', 'user:42', ...ms, ...base, '--json'])).stored).toBe(true);
  });

  it('--ip keys a client address as the middleware does (IPv6 by subnet), --token by digest (from stdin)', async () => {
    // A slow refill: a bucket that refills completely has no key left to find.
    const web = limiter({ name: 'web', max: 100, window: '1h' });
    await web.consume(ipKey('2001:db8:1:2::1', 64) as string);
    const ip = await runCli(['status', '2001:db8:1:2:ffff::9', '--ip', '--name', 'web', ...base, '--json']);
    expect(json(ip)).toMatchObject({ redisKey: web.keyFor('2001:db8:1:2::/64'), stored: true });

    await web.consume(tokenKey('sk-live-secret'));
    const token = await runCli(['status', '-', '--token', '--name', 'web', ...base, '--json'], {
      input: 'sk-live-secret\n',
    });
    expect(token.code).toBe(0);
    expect(json(token)).toMatchObject({ stored: true, policies: [{ remaining: 99 }] });
    expect(token.stdout).not.toContain('sk-live-secret');
  });

  it('status without a limiter finds every limiter holding state for the key', async () => {
    const a = limiter({ name: 'everywhere-a', max: 5, window: '1h' });
    const b = limiter({ max: 7, window: '1h', burst: 9 });
    await a.consume('198.51.100.1');
    await b.consume('198.51.100.1', 2);
    // Same key under a limiter whose name ends like another's key must not be mistaken for it.
    await limiter({ name: 'x', max: 5, window: '1h' }).consume('other:198.51.100.1');
    const result = await runCli(['status', '198.51.100.1', ...base, '--json']);
    expect(result.code).toBe(0);
    const found = json(result) as Array<{ redisKey: string; policies: Array<{ policy: string }> }>;
    expect(found.map((s) => s.redisKey).sort()).toEqual([a.keyFor('198.51.100.1'), b.keyFor('198.51.100.1')].sort());
    expect(found.find((s) => s.redisKey === b.keyFor('198.51.100.1'))?.policies[0]?.policy).toBe('7-per-1h-burst-9');
  });

  it('an unknown limiter, or a key no limiter holds: exit 1, one line', async () => {
    const byName = await runCli(['status', '1.2.3.4', '--name', 'nobody', ...base]);
    expect(byName.code).toBe(1);
    expectOneLineError(byName, new RegExp(`no limiter named "nobody" under prefix "${prefix}"`));

    const byPolicy = await runCli(['status', '1.2.3.4', '--max', '3', '--window', '1s', ...base]);
    expect(byPolicy.code).toBe(1);
    expectOneLineError(byPolicy, /no limiter with policy p:3-1000-3 under prefix/);

    const anywhere = await runCli(['status', '192.0.2.99', ...base]);
    expect(anywhere.code).toBe(1);
    expectOneLineError(anywhere, /no limiter under prefix .* holds state for "192\.0\.2\.99".*add --ip or --token/);
  });

  it('a key that is not a bucket is refused, not misread', async () => {
    // Keys where limiters with these names and a 1-per-1s policy would keep a bucket.
    await client.set(limiter({ name: 'strange', max: 1, window: '1s' }).keyFor('k'), 'x');
    const result = await runCli(['status', 'k', '--name', 'strange', ...base]);
    expect(result.code).toBe(1);
    expectOneLineError(result, /is a Redis string that is not a tollgate bucket/);
    await client.rpush(limiter({ name: 'stranger', max: 1, window: '1s' }).keyFor('k'), 'x');
    const list = await runCli(['status', 'k', '--name', 'stranger', ...base]);
    expect(list.code).toBe(1);
    expectOneLineError(list, /is a Redis list, not a tollgate bucket/);
  });

  it('reset refills the buckets, even for an app answering the refusal from memory; a second reset has nothing to do', async () => {
    // An app's store of its own, as in another process: its denial cache must hear the reset.
    const appClient = new Redis(REDIS_URL);
    const appStore = new RedisStore({ client: appClient });
    const login = new RateLimiter({ prefix, store: appStore, name: 'reset-me', max: 2, window: '1h' });
    await login.consume('203.0.113.9');
    await login.consume('203.0.113.9');
    // Refused until the refusal is answered from memory (the reset subscription confirmed).
    for (let i = 0; i < 200 && appStore.cachedRefusals === 0; i++) {
      expect((await login.consume('203.0.113.9')).allowed).toBe(false);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(appStore.cachedRefusals).toBe(1);
    expect((await login.consume('203.0.113.9')).allowed).toBe(false);

    const first = await runCli(['reset', '203.0.113.9', '--name', 'reset-me', ...base]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`Reset ${login.keyFor('203.0.113.9')}: its buckets are full again.`);
    // The announcement travels on another connection: it lands, then the refusal is forgotten.
    for (let i = 0; i < 200 && appStore.cachedRefusals > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect((await login.consume('203.0.113.9')).remaining).toBe(1);

    await login.reset('203.0.113.9');
    await login.consume('203.0.113.10');
    const second = await runCli(['reset', '203.0.113.9', '--name', 'reset-me', ...base, '--json']);
    expect(second.code).toBe(0);
    // With no key for the client, the limiter's policies are not known: the key is what was searched.
    expect(json(second)).toEqual({
      redisKey: `${prefix}:n:reset-me:*:203.0.113.9`,
      limiter: { prefix, name: 'reset-me', label: 'reset-me' },
      reset: false,
    });
    await appStore.close();
    await appClient.quit();
  });

  it('reset is idempotent: nothing stored (reset twice, no key of the limiter, no limiter at all) is "Nothing to reset", exit 0', async () => {
    // A prefix of its own: once the key is reset, no key of the limiter is left anywhere.
    const own = uniquePrefix('cli-reset');
    const args = ['--redis-url', REDIS_URL, '--prefix', own];
    const login = new RateLimiter({ prefix: own, store, name: 'login', max: 5, window: '15m' });
    await login.consume('203.0.113.7');
    const first = await runCli(['reset', '203.0.113.7', '--ip', '--name', 'login', ...args]);
    expect(first).toMatchObject({
      code: 0,
      stderr: '',
      stdout: `Reset ${login.keyFor('203.0.113.7')}: its buckets are full again.\n`,
    });

    const second = await runCli(['reset', '203.0.113.7', '--ip', '--name', 'login', ...args]);
    expect(second).toMatchObject({
      code: 0,
      stderr: '',
      stdout: `Nothing to reset: ${own}:n:login:*:203.0.113.7 holds no state (its buckets are already full).\n`,
    });
    expect(json(await runCli(['reset', '203.0.113.7', '--ip', '--name', 'login', ...args, '--json']))).toMatchObject({
      redisKey: `${own}:n:login:*:203.0.113.7`,
      reset: false,
    });
    const byPolicy = await runCli(['reset', '203.0.113.7', '--max', '3', '--window', '1s', ...args, '--json']);
    expect(json(byPolicy)).toMatchObject({ redisKey: `${own}:p:3-1000-3:203.0.113.7`, reset: false });

    const all = await runCli(['reset', '203.0.113.7', '--ip', '--all', ...args]);
    expect(all).toMatchObject({
      code: 0,
      stderr: '',
      stdout: `Nothing to reset: no limiter under prefix "${own}" holds state for "203.0.113.7" (its buckets are full everywhere).\n`,
    });
    expect(json(await runCli(['reset', '203.0.113.7', '--ip', '--all', ...args, '--json']))).toEqual([]);
    expect(await client.keys(`${own}:*`)).toEqual([]);
  });

  it('reset refuses a key that is not a bucket, and leaves it alone', async () => {
    const notMine = limiter({ name: 'not-mine', max: 1, window: '1s' }).keyFor('k');
    await client.set(notMine, 'x');
    const result = await runCli(['reset', 'k', '--name', 'not-mine', ...base]);
    expect(result.code).toBe(1);
    expectOneLineError(result, /is a Redis string that is not a tollgate bucket/);
    expect(await client.get(notMine)).toBe('x');
  });

  it('reset --all resets the key in every limiter, and nothing else', async () => {
    const a = limiter({ name: 'all-a', max: 3, window: '1h' });
    const b = limiter({ name: 'all-b', max: 3, window: '1h' });
    await a.consume('10.9.8.7');
    await b.consume('10.9.8.7');
    await a.consume('10.9.8.6');
    const result = await runCli(['reset', '10.9.8.7', '--all', ...base, '--json']);
    expect(result.code).toBe(0);
    expect(json(result).map((r: { redisKey: string }) => r.redisKey)).toEqual([
      a.keyFor('10.9.8.7'),
      b.keyFor('10.9.8.7'),
    ]);
    expect((await a.peek('10.9.8.7')).remaining).toBe(3);
    expect((await a.peek('10.9.8.6')).remaining).toBe(2);
  });
});

describe.skipIf(!redis.server)('tollgate CLI on Redis: usage', () => {
  const prefix = uniquePrefix('cli-usage');
  let client: Redis;

  beforeAll(async () => {
    client = new Redis(REDIS_URL);
    const claude = new ClaudeRateLimiter({ redis: client, prefix });
    await claude.recordUsage('claude-sonnet-4-5', {
      input_tokens: 1_000,
      output_tokens: 500,
      cache_read_input_tokens: 2_000,
    });
    await claude.recordUsage('claude-sonnet-4-5', { input_tokens: 10, output_tokens: 5 }, { success: false });
    await claude.recordUsage('claude-haiku-4-5', { input_tokens: 300, output_tokens: 20 });
  });
  afterAll(async () => {
    const keys = await client.keys(`${prefix}:*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  it('--json is getUsageStats as it is', async () => {
    const result = await runCli(['usage', '--days', '3', '--redis-url', REDIS_URL, '--prefix', prefix, '--json']);
    expect(result.code).toBe(0);
    const stats = json(result);
    const direct = await new ClaudeRateLimiter({ redis: client, prefix }).getUsageStats({ days: 3 });
    expect(stats).toEqual(JSON.parse(JSON.stringify(direct)));
    expect(stats.days).toHaveLength(3);
    expect(stats).toMatchObject({ calls: 3, errors: 1, tokens: { input: 1_310, output: 525, cacheRead: 2_000 } });
    expect(stats.costUsd).toBeGreaterThan(0);
  });

  it('prints a table: a row per day and model, and the total', async () => {
    const result = await runCli(['usage', '--redis-url', REDIS_URL, '--prefix', prefix]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(`^Claude API usage \\d{4}-\\d\\d-\\d\\d to \\d{4}-\\d\\d-\\d\\d \\(UTC days\\), prefix "${prefix}"`),
    );
    expect(lines[2]).toMatch(
      /^date\s+model\s+calls\s+errors\s+input\s+cache writes\s+cache reads\s+output\s+cost \(USD\)$/,
    );
    expect(lines.find((l) => l.includes('claude-sonnet-4-5'))).toMatch(
      /claude-sonnet-4-5\s+2\s+1\s+1,010\s+0\s+2,000\s+505\s+\$\d+\.\d{4}$/,
    );
    expect(lines.at(-1)).toMatch(/^total\s+3\s+1\s+1,310\s+0\s+2,000\s+525\s+\$\d+\.\d{4}$/);
  });

  it('an empty ledger says so (a wrong --prefix, or no calls)', async () => {
    const result = await runCli(['usage', '--redis-url', REDIS_URL, '--prefix', `${prefix}-none`]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('No usage recorded in these 7 days.');
  });
});

describe.skipIf(!redis.server || redis.clusterNodes.length === 0)('tollgate CLI on a Redis Cluster', () => {
  it('detects the cluster from one node, finds keys on every master, resets them', async () => {
    const prefix = uniquePrefix('cli-cluster');
    const cluster = await clusterClient();
    try {
      const store = new RedisStore({ client: cluster });
      const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
      // Six limiters' keys for one client: spread over the masters' hash slots.
      const limiters = names.map((name) => new RateLimiter({ prefix, store, name, max: 4, window: '1h' }));
      for (const limiter of limiters) await limiter.consume('k');
      const url = `redis://${redis.clusterNodes[0]}`;
      const found = await runCli(['status', 'k', '--redis-url', url, '--prefix', prefix, '--json']);
      expect(found.code).toBe(0);
      expect(json(found).map((s: { limiter: { name: string } }) => s.limiter.name)).toEqual(names);

      const one = await runCli(['status', 'k', '--name', 'c4', '--redis-url', url, '--prefix', prefix, '--json']);
      expect(json(one)).toMatchObject({ stored: true, policies: [{ remaining: 3 }] });

      const reset = await runCli(['reset', 'k', '--all', '--redis-url', url, '--prefix', prefix, '--json']);
      expect(json(reset).every((r: { reset: boolean }) => r.reset)).toBe(true);
      for (const limiter of limiters) expect(await cluster.exists(limiter.keyFor('k'))).toBe(0);
    } finally {
      cluster.disconnect();
    }
  });
});
