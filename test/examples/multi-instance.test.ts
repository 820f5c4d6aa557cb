import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REDIS_URL, redis } from '../helpers/redis.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** The README's command, `node examples/multi-instance/demo.js`: two app processes, one limit. */
async function demo(args: string[] = []) {
  const { stdout } = await run(process.execPath, ['examples/multi-instance/demo.js', ...args], {
    cwd: root,
    env: { ...process.env, REDIS_URL },
  });
  return stdout;
}

describe('examples/multi-instance', () => {
  it.skipIf(!redis.server)('two instances on one Redis admit the single limit between them', async () => {
    const out = await demo();
    expect(out).toContain(`on one Redis at ${REDIS_URL}`);
    expect(out).toContain('admitted 10 of 30 (A: 5, B: 5); the limit is 10 per minute');
    expect(out).toContain('total admitted equals the single limit of 10');
    // `remaining` counts down across both instances: one bucket.
    expect(out).toMatch(/# 1 {2}A {2}200 {2}RateLimit: "multi-instance";r=9;/);
    expect(out).toMatch(/# 2 {2}B {2}200 {2}RateLimit: "multi-instance";r=8;/);
    expect(out).toMatch(/#11 {2}A {2}429 .* Retry-After: \d+/);
  });

  it('on in-memory stores each instance admits its own limit (the contrast the README shows)', async () => {
    const out = await demo(['--store', 'memory']);
    expect(out).toContain('admitted 20 of 30 (A: 10, B: 10)');
  });

  it('refuses an unknown store by name', async () => {
    await expect(demo(['--store', 'etcd'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('etcd') });
  });
});
