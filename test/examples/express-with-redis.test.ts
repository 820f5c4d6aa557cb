import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Duration, RateLimiter } from '@tollgate/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the example is plain JavaScript.
import { limits } from '../../examples/express-with-redis/app.js';
import { REDIS_URL, redis } from '../helpers/redis.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
type Limit = { max: number; window: Duration; name: string };
const { site, login } = limits as { site: Limit; login: Limit };

/**
 * The README's command, `node examples/express-with-redis/app.js`, in a process of its own (on
 * the built packages), against the real Redis at REDIS_URL.
 */
describe.skipIf(!redis.server)('examples/express-with-redis, as its README runs it', () => {
  const client = new Redis(REDIS_URL);
  const keys = [site, login].map((limit) => new RateLimiter(limit).keyFor('127.0.0.1'));
  let app: ChildProcess;
  let url = '';

  beforeAll(async () => {
    // Buckets outlive a run: start from full ones.
    await client.del(...keys);
    app = spawn(process.execPath, ['examples/express-with-redis/app.js'], {
      cwd: root,
      env: { ...process.env, REDIS_URL, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      app.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on (\S+)/.exec(out);
        if (match) resolve(match[1] as string);
      });
      app.once('exit', (code) => reject(new Error(`the example exited with ${code} before listening`)));
    });
  });

  afterAll(async () => {
    if (app.exitCode === null) {
      const exited = new Promise((resolve) => app.once('exit', resolve));
      app.kill('SIGKILL');
      await exited;
    }
    await client.del(...keys);
    await client.quit();
  });

  it('limits POST /login to 3, then answers 429 with both policies, Retry-After and problem+json', async () => {
    for (let i = 0; i < login.max; i++) {
      const res = await fetch(`${url}/login`, { method: 'POST' });
      await res.arrayBuffer();
      expect(res.status).toBe(200);
    }
    const res = await fetch(`${url}/login`, { method: 'POST' });
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.headers.get('ratelimit-policy')).toBe('"site";q=20;w=60, "login";q=3;w=900');
    expect(res.headers.get('ratelimit')).toMatch(/^"site";r=\d+;t=\d+, "login";r=0;t=\d+$/);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as { status: number; 'violated-policies': string[] };
    expect(body).toMatchObject({ status: 429, 'violated-policies': ['login'] });
  });

  it('keeps the buckets in Redis, under the limiters’ names', async () => {
    expect(await client.exists(...keys)).toBe(2);
  });

  it('limits GET /hello by the site limit only, and leaves /health alone', async () => {
    const hello = await fetch(`${url}/hello`);
    expect(hello.status).toBe(200);
    expect(await hello.json()).toEqual({ hello: 'world' });
    expect(hello.headers.get('ratelimit-policy')).toBe('"site";q=20;w=60');
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('ratelimit')).toBeNull();
  });

  it('counts the decisions at /metrics', async () => {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('tollgate_ratelimit_decisions_total{limiter="login",outcome="limited",source="store"} 1');
    expect(metrics).toContain('tollgate_ratelimit_decisions_total{limiter="login",outcome="allowed",source="store"} 3');
    expect(metrics).toMatch(/tollgate_ratelimit_store_duration_seconds_count\{limiter="site"\} [1-9]/);
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => app.once('exit', resolve));
    app.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
