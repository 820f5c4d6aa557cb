import { RateLimiter, RedisStore } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisProcess, redis } from '../helpers/redis.js';
import { ensureBuilt, runCli } from './run-cli.js';

beforeAll(() => ensureBuilt());

const TIMEOUT = 1000;
/** A hang never ends; a bounded failure ends within its timeout, plus a CLI start on a busy machine. */
const BOUND = TIMEOUT + 8_000;

/** Every command, each way of naming the limiter. */
const ARGS: ReadonlyArray<readonly string[]> = [
  ['status', '203.0.113.7', '--ip', '--name', 'login'],
  ['status', '203.0.113.7', '--ip'],
  ['status', '203.0.113.7', '--ip', '--max', '5', '--window', '15m'],
  ['reset', '203.0.113.7', '--ip', '--name', 'login'],
  ['reset', '203.0.113.7', '--ip', '--all'],
  ['usage', '--days', '31'],
];
/** `[shown, args]` for it.each. */
const COMMANDS = ARGS.map((args) => [args.join(' '), args] as const);

/** Buckets the commands find: with them a command gets past connecting to its real reads and writes. */
async function seed(url: string): Promise<void> {
  const client = new Redis(url);
  const store = new RedisStore({ client });
  await new RateLimiter({ store, name: 'login', max: 5, window: '15m' }).consume('203.0.113.7');
  await new RateLimiter({ store, max: 5, window: '15m' }).consume('203.0.113.7');
  await store.close();
  client.disconnect();
}

function expectUnreachable(
  result: { code: number | null; stdout: string; stderr: string; ms: number },
  pattern: RegExp,
) {
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 3, stdout: '' });
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(pattern);
  expect(result.ms).toBeLessThan(BOUND);
}

describe.skipIf(!redis.binary)('tollgate CLI: every command ends within --timeout, exit 3, when Redis is away', () => {
  let dead: RedisProcess;
  let paused: RedisProcess;
  let stalled: RedisProcess;

  beforeAll(async () => {
    [dead, paused, stalled] = await Promise.all([RedisProcess.start(), RedisProcess.start(), RedisProcess.start()]);
    await Promise.all([seed(dead.url), seed(paused.url), seed(stalled.url)]);
    await dead.kill();
    paused.pause();
  });
  afterAll(async () => {
    await Promise.all([dead.stop(), paused.stop(), stalled.stop()]);
  });

  const run = (command: readonly string[], url: string) =>
    runCli([...command, '--redis-url', url, '--timeout', String(TIMEOUT)]);

  it.each(COMMANDS)('%s: a dead (killed) Redis', async (_shown, command) => {
    expectUnreachable(
      await run(command, dead.url),
      /^tollgate: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/?: connection refused$/m,
    );
  });

  it.each(COMMANDS)('%s: a paused (SIGSTOP) Redis', async (_shown, command) => {
    expectUnreachable(
      await run(command, paused.url),
      new RegExp(
        `^tollgate: cannot reach Redis at redis://127\\.0\\.0\\.1:\\d+/?: no answer within ${TIMEOUT} ms$`,
        'm',
      ),
    );
  });

  it.each(COMMANDS)('%s: an unreachable Redis (port 1)', async (_shown, command) => {
    expectUnreachable(
      await run(command, 'redis://127.0.0.1:1'),
      /^tollgate: cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/?: connection refused$/m,
    );
  });

  it('a Redis killed while a command waits: exit 3 on the loss, long before --timeout', async () => {
    const server = await RedisProcess.start();
    const admin = new Redis(server.url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
    admin.on('error', () => {});
    try {
      await seed(server.url);
      await admin.call('CLIENT', 'PAUSE', '60000', 'WRITE');
      const running = runCli([...(ARGS[3] as string[]), '--redis-url', server.url, '--timeout', '60000']);
      // The reset's DEL is held: the CLI is connected and waiting for it.
      for (let i = 0; i < 1600 && !/blocked_clients:[1-9]/.test(await admin.info('clients')); i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      await server.kill();
      const result = await running;
      expectUnreachable(result, /^tollgate: Redis at redis:\/\/127\.0\.0\.1:\d+\/? failed: the connection was lost$/m);
      expect(result.ms).toBeLessThan(30_000);
    } finally {
      admin.disconnect();
      await server.stop();
    }
  });

  // Connected and answering reads, then silent on the command that writes (or runs the bucket
  // script): CLIENT PAUSE WRITE holds those as a hung server would.
  it.each(COMMANDS.filter(([, args]) => args[0] !== 'usage'))(
    '%s: a Redis that stops answering mid-command',
    async (_shown, command) => {
      const admin = new Redis(stalled.url);
      try {
        await admin.call('CLIENT', 'PAUSE', String(BOUND * 2), 'WRITE');
        expectUnreachable(
          await run(command, stalled.url),
          new RegExp(`^tollgate: Redis at redis://127\\.0\\.0\\.1:\\d+/? failed: no answer within ${TIMEOUT} ms$`, 'm'),
        );
      } finally {
        await admin.call('CLIENT', 'UNPAUSE');
        admin.disconnect();
      }
    },
  );
});
