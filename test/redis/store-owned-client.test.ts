import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Issue 12 item 3: a RedisStore that opens its own client (`url`) listens for its errors and
 * logs them through the store's logger, throttled. Before, ioredis printed "Unhandled error event"
 * with a stack for every reconnection attempt (10 in 20 s), whatever logger was given.
 * Runs the built @tollgate/core (`npm run build -w packages/core`) in a process of its own, so
 * its stderr is the process's.
 */
const FIXTURE = fileURLToPath(new URL('../fixtures/unreachable-redis-store.mjs', import.meta.url));
const RUN_MS = 3000;

async function run(env: Record<string, string>) {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, REDIS_URL: 'redis://:s3cret@127.0.0.1:1', RUN_MS: String(RUN_MS), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  expect(code).toBe(0);
  const report = JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
    errors: number;
    lines: { f: Record<string, unknown>; m: string }[];
    failures: string[];
  };
  return { report, stderr };
}

describe('a RedisStore opened from a URL that nobody answers', () => {
  it('with its own logger: one throttled line on it for many connection errors, nothing on stderr', async () => {
    const { report, stderr } = await run({ LOGGER: 'collect', COUNT_ERRORS: '1' });
    expect(stderr).not.toMatch(/Unhandled error event/);
    expect(stderr).toBe('');
    // ioredis retried many times (50 ms, 100 ms, … apart) …
    expect(report.errors).toBeGreaterThanOrEqual(5);
    // … and the store logged it once, naming what failed and where, without the password.
    const connection = report.lines.filter((l) => l.m.startsWith('Redis connection failed'));
    expect(connection).toHaveLength(1);
    expect(connection[0]?.f).toMatchObject({ error: 'connect ECONNREFUSED 127.0.0.1:1', suppressed: 0 });
    expect(String(connection[0]?.f.url)).not.toContain('s3cret');
    expect(report.failures).toEqual(['TOLLGATE_STORE_TIMEOUT']);
  });

  it('with the default logger: one [tollgate] line on stderr, no unhandled error stacks', async () => {
    const { stderr } = await run({});
    expect(stderr).not.toMatch(/Unhandled error event/);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stderr.match(/\[tollgate\] Redis connection failed/g)).toHaveLength(1);
  });
});
