import { ClaudeRateLimiter } from '@tollgate/llm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redis, uniquePrefix } from '../helpers/redis.js';
import { ensureBuilt, runCli } from './run-cli.js';

/** `tollgate claude status|reset <model>`: a Claude family's shared buckets, from the command line. */

const MODEL = 'claude-sonnet-4-6';
const LIMITS = ['--rpm', '60', '--itpm', '1000', '--otpm', '10000'];

beforeAll(() => ensureBuilt(), 120_000);

describe('tollgate claude: arguments', () => {
  it.each([
    [['claude'], /claude takes status or reset/],
    [['claude', 'peek', MODEL], /claude takes status or reset/],
    [['claude', 'status'], /give one model id/],
    [['claude', 'status', MODEL, 'extra'], /give one model id/],
    [['claude', 'status', MODEL, '--rpm', '5'], /give --rpm, --itpm and --otpm together/],
    [['claude', 'reset', MODEL, ...LIMITS], /go with claude status/],
    [['claude', 'status', MODEL, '--name', 'x'], /--name does not apply to claude/],
    [['claude', 'status', '__proto__'], /model "__proto__" is not a model id/],
    [['claude', 'status', 'two words'], /is not a model id/],
  ])('%j: exit 2, one line', async (args, pattern) => {
    const result = await runCli([...args, '--redis-url', 'redis://127.0.0.1:1']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('Redis unreachable: exit 3 within --timeout', async () => {
    const result = await runCli(['claude', 'status', MODEL, '--redis-url', 'redis://127.0.0.1:1', '--timeout', '300']);
    expect(result.code).toBe(3);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe.skipIf(!redis.server)('tollgate claude: status and reset against the fleet Redis', () => {
  const prefix = uniquePrefix('cli-claude');
  let client: Redis;
  let claude: ClaudeRateLimiter;
  beforeAll(() => {
    client = new Redis(REDIS_URL);
    claude = new ClaudeRateLimiter({
      redis: client,
      prefix,
      limits: { [MODEL]: { rpm: 60, itpm: 1_000, otpm: 10_000 } },
    });
  });
  afterAll(() => client.quit());

  it('status shows what the app took; reset fills the family again; exit 0', async () => {
    await claude.checkLimit(MODEL, { inputTokens: 900, maxTokens: 100 });
    const common = ['--redis-url', REDIS_URL, '--prefix', prefix];
    // The same limits as the app's name the same bucket fields.
    const status = await runCli(['claude', 'status', MODEL, ...LIMITS, ...common, '--json']);
    expect(status.code, status.stderr).toBe(0);
    const shown = JSON.parse(status.stdout) as {
      family: string;
      itpm: { remaining: number };
      rpm: { limit: number };
    };
    expect(shown.family).toBe(MODEL);
    expect(shown.rpm.limit).toBe(60);
    expect(shown.itpm.remaining).toBeGreaterThanOrEqual(100);
    expect(shown.itpm.remaining).toBeLessThan(200);
    const table = await runCli(['claude', 'status', MODEL, ...LIMITS, ...common]);
    expect(table.stdout).toMatch(/input tokens\s+1,000\s+1,000\s+1\d\d\s/);

    const reset = await runCli(['claude', 'reset', MODEL, ...common]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain(`Reset the buckets of ${MODEL}'s family`);
    expect((await claude.status(MODEL)).itpm.remaining).toBe(1_000);
  });
});
