import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs a snippet in a fresh Node process against the built packages, as a user's app would. */
function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();
}

describe('the built packages load from ESM and CommonJS', () => {
  for (const pkg of ['@tollgate/core', '@tollgate/express', '@tollgate/koa', '@tollgate/fastify']) {
    it(`${pkg} with require()`, () => {
      const out = run(['-e', `const m = require('${pkg}'); console.log(typeof m.RateLimiter, typeof m.MemoryStore)`]);
      expect(out).toBe('function function');
    });

    it(`${pkg} with import`, () => {
      const out = run([
        '--input-type=module',
        '-e',
        `const m = await import('${pkg}'); console.log(typeof m.RateLimiter, typeof m.MemoryStore)`,
      ]);
      expect(out).toBe('function function');
    });
  }

  it('a CommonJS Express app gets a 429 from the built adapter', () => {
    const script = `
      const express = require('express');
      const { rateLimit } = require('@tollgate/express');
      const app = express();
      app.use(rateLimit({ max: 1, window: '1m' }));
      app.get('/', (req, res) => res.send('ok'));
      const server = app.listen(0, '127.0.0.1', async () => {
        const url = 'http://127.0.0.1:' + server.address().port + '/';
        const a = await fetch(url); const b = await fetch(url);
        console.log(a.status, b.status, b.headers.get('retry-after') !== null);
        server.close();
      });`;
    expect(run(['-e', script])).toBe('200 429 true');
  });
});
