import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// `REDIS_URL=redis://127.0.0.1:1 npm run demo` used to hang for good: its opening reset waited for
// a Redis that never answers. Now the reset fails within timeoutMs with a coded error, the app's
// limiter falls back to its local bucket, and the demo finishes.

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

describe('npm run demo with an unreachable Redis', () => {
  for (const framework of ['express', 'koa', 'fastify']) {
    it(`finishes for ${framework}, limiting from the local fallback`, async () => {
      const { REDIS_URL: _unset, ...base } = process.env;
      // The bound is generous (the demo needs a few seconds): a hang is what it catches.
      const { stdout } = await run(process.execPath, ['examples/demo.js', '--framework', framework], {
        cwd: root,
        env: { ...base, REDIS_URL: 'redis://127.0.0.1:1' },
        timeout: 30_000,
      });
      expect(stdout).toMatch(/could not reset the demo's bucket \(TOLLGATE_STORE_(TIMEOUT|UNAVAILABLE)\)/);
      expect(stdout).toContain('on Redis at redis://127.0.0.1:1');
      expect(stdout).toContain('10 allowed, 5 refused with 429');
    });
  }
});
