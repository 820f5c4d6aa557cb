import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REDIS_URL, redis } from '../helpers/redis.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

async function demo(framework: string, env: Record<string, string> = {}) {
  const { REDIS_URL: _unset, ...base } = process.env;
  const { stdout } = await run(process.execPath, ['examples/demo.js', '--framework', framework], {
    cwd: root,
    env: { ...base, ...env },
  });
  return stdout;
}

describe('npm run demo', () => {
  for (const framework of ['express', 'koa', 'fastify', 'hono', 'fetch', 'nestjs']) {
    it(`runs the ${framework} example on the in-memory store`, async () => {
      const out = await demo(framework);
      expect(out).toContain('on the in-memory store');
      expect(out).toContain('10 allowed, 5 refused with 429');
      expect(out).toContain('retry-after: 6');
      expect(out).toContain('ratelimit-policy: "demo";q=10;w=60');
      expect(out).toContain('tollgate_ratelimit_decisions_total{limiter="demo",outcome="limited",source="store"} 5');
      expect(out).toMatch(/http_server_request_duration_seconds_count\{[^}]*http_route="\/hello"[^}]*"200"\} 10/);
      // The 429s too, in every framework: Express's app-wide limiter once counted them as _UNMATCHED.
      expect(out).toMatch(/http_server_request_duration_seconds_count\{[^}]*http_route="\/hello"[^}]*"429"\} 5/);
      expect(out).not.toContain('_UNMATCHED');
    });

    it.skipIf(!redis.server)(`runs the ${framework} example on Redis when REDIS_URL is set`, async () => {
      const out = await demo(framework, { REDIS_URL });
      expect(out).toContain(`on Redis at ${REDIS_URL}`);
      expect(out).toContain('10 allowed, 5 refused with 429');
    });
  }

  it('refuses an unknown framework by name', async () => {
    await expect(demo('hapi')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('hapi') });
  });
});
