import { rateLimit } from '@tollgate/express';
import express4 from 'express4';
import { describe, expect, it } from 'vitest';
import {
  closeServersAfterEach,
  counter,
  get,
  getMany,
  manualClock,
  QUOTA_EXCEEDED,
  serve,
  storeKeys,
} from './support.js';

closeServersAfterEach();

async function express4App(options: Parameters<typeof rateLimit>[0], trustProxy?: boolean) {
  const app = express4();
  if (trustProxy !== undefined) app.set('trust proxy', trustProxy);
  const route = counter();
  app.use(rateLimit(options));
  app.get('/r', route.handler);
  return { url: `${await serve(app)}/r`, calls: route.calls };
}

describe('Express 4', () => {
  it('is really Express 4', async () => {
    const { createRequire } = await import('node:module');
    const version = createRequire(import.meta.url)('express4/package.json').version as string;
    expect(version).toMatch(/^4\./);
  });

  it('lets allowed requests through to the handler with the RateLimit fields', async () => {
    const { store } = manualClock();
    const { url, calls } = await express4App({ max: 3, window: '1m', store });
    const replies = await getMany(2, url);
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    expect(replies.map((r) => r.headers.get('ratelimit-policy'))).toEqual([
      '"3-per-1m";q=3;w=60',
      '"3-per-1m";q=3;w=60',
    ]);
    expect(replies.map((r) => r.headers.get('ratelimit'))).toEqual(['"3-per-1m";r=2;t=20', '"3-per-1m";r=1;t=40']);
    expect(calls()).toBe(2);
  });

  it('answers an over-limit request with 429, Retry-After and a problem body; the handler does not run', async () => {
    const { store } = manualClock();
    const { url, calls } = await express4App({ max: 1, window: '1m', store, name: 'e4' });
    const [ok, refused] = await getMany(2, url);
    expect(ok?.status).toBe(200);
    expect(refused?.status).toBe(429);
    expect(refused?.headers.get('retry-after')).toBe('60');
    expect(refused?.headers.get('content-type')).toMatch(/^application\/problem\+json(;|$)/);
    expect(refused?.headers.get('ratelimit')).toBe('"e4";r=0;t=60');
    expect(refused?.json).toMatchObject({ type: QUOTA_EXCEEDED, status: 429, 'violated-policies': ['e4'] });
    expect(calls()).toBe(1);
  });

  it('honours trust proxy like Express 5', async () => {
    const untrusted = manualClock();
    const a = await express4App({ max: 1, window: '1m', store: untrusted.store });
    expect((await get(a.url, { 'x-forwarded-for': '203.0.113.1' })).status).toBe(200);
    expect((await get(a.url, { 'x-forwarded-for': '203.0.113.2' })).status).toBe(429);

    const trusted = manualClock();
    const b = await express4App({ max: 1, window: '1m', store: trusted.store }, true);
    expect((await get(b.url, { 'x-forwarded-for': '203.0.113.1' })).status).toBe(200);
    expect((await get(b.url, { 'x-forwarded-for': '203.0.113.2' })).status).toBe(200);
    expect(storeKeys(trusted.store).map((k) => k.split(':').pop())).toEqual(['203.0.113.1', '203.0.113.2']);
  });

  it('stacks limiters on a mount path', async () => {
    const { store } = manualClock();
    const app = express4();
    const route = counter();
    app.use(rateLimit({ name: 'global', max: 5, window: '1m', store }));
    app.use('/api', rateLimit({ name: 'api', max: 1, window: '1m', store }));
    app.get('/api/r', route.handler);
    const base = await serve(app);
    const ok = await get(`${base}/api/r`);
    expect(ok.headers.get('ratelimit-policy')).toBe('"global";q=5;w=60, "api";q=1;w=60');
    const refused = await get(`${base}/api/r`);
    expect(refused.status).toBe(429);
    expect(refused.json?.['violated-policies']).toEqual(['api']);
    expect(route.calls()).toBe(1);
  });
});
